package server

import (
	"context"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/mews"
)

// The Inbox operations of the admin API: what an inbox of the enterprise's
// side lists (the console is built on them).

// AdminIntegrationsGetAll lists the configured integrations and the
// enterprises of their access tokens.
func (a adminServer) AdminIntegrationsGetAll(ctx context.Context, _ admin.AdminIntegrationsGetAllRequestObject) (admin.AdminIntegrationsGetAllResponseObject, error) {
	out := admin.AdminIntegrationsResult{Integrations: make([]admin.AdminIntegration, len(a.s.tokens.integrations))}
	for i, in := range a.s.tokens.integrations {
		es := in.enterprises
		if es == nil {
			es = []uuid.UUID{}
		}
		out.Integrations[i] = admin.AdminIntegration{IntegrationId: in.id, Name: in.name, EnterpriseIds: es}
	}
	return admin.AdminIntegrationsGetAll200JSONResponse{Body: out,
		Headers: admin.AdminIntegrationsGetAll200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}

// AdminMessageThreadsSearch lists the threads of an enterprise by latest
// activity, searched and filtered.
func (a adminServer) AdminMessageThreadsSearch(ctx context.Context, req admin.AdminMessageThreadsSearchRequestObject) (admin.AdminMessageThreadsSearchResponseObject, error) {
	b := req.Body
	q := mews.ThreadSearch{EnterpriseID: b.EnterpriseId, IntegrationID: b.IntegrationId, IsResolved: b.IsResolved, Page: adminPage(b.Limitation)}
	if b.Text != nil {
		q.Text = *b.Text
	}
	ss, err := a.store.ThreadsSearch(ctx, q)
	if err != nil {
		return nil, err
	}
	out := admin.AdminThreadSearchPage{MessageThreads: make([]admin.AdminThreadSummary, len(ss))}
	for i, s := range ss {
		out.MessageThreads[i].MessageThread = adminThread(s.Thread)
		if s.LastMessage != nil {
			m := adminMessage(*s.LastMessage)
			out.MessageThreads[i].LastMessage = &m
		}
	}
	if len(ss) > 0 {
		out.Cursor = &ss[len(ss)-1].Thread.ID
	}
	return admin.AdminMessageThreadsSearch200JSONResponse{Body: out,
		Headers: admin.AdminMessageThreadsSearch200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}

// AdminMessageThreadsGet returns any thread.
func (a adminServer) AdminMessageThreadsGet(ctx context.Context, req admin.AdminMessageThreadsGetRequestObject) (admin.AdminMessageThreadsGetResponseObject, error) {
	t, err := a.store.ThreadGet(ctx, req.Body.MessageThreadId)
	if err != nil {
		return nil, err
	}
	return admin.AdminMessageThreadsGet200JSONResponse{Body: admin.AdminMessageThreadResult{MessageThread: adminThread(t)},
		Headers: admin.AdminMessageThreadsGet200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}
