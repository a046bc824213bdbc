package server

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/mews"
)

// The requests/* operations of the admin API: the request journal read,
// counted and cleared. Each first waits for the entries this process has
// queued (recorder.sync), so it sees every request answered before it.

func (a adminServer) requests(ctx context.Context) (*recorder, error) {
	j := a.s.journal
	if j == nil {
		return nil, mews.Errorf(mews.ENOTFOUND, "The request journal is off: the server runs with -journal 0 (or a store without one).")
	}
	return j, j.sync(ctx)
}

// AdminRequestsGetAll returns a page of the journal, newest first.
func (a adminServer) AdminRequestsGetAll(ctx context.Context, req admin.AdminRequestsGetAllRequestObject) (admin.AdminRequestsGetAllResponseObject, error) {
	b := req.Body
	f, err := requestFilter(admin.AdminRequestFilter{
		Operations: b.Operations, IntegrationIds: b.IntegrationIds, AccessToken: b.AccessToken,
		Statuses: b.Statuses, CreatedUtc: b.CreatedUtc, RequestIds: b.RequestIds, MessageThreadIds: b.MessageThreadIds,
	})
	if err != nil {
		return nil, err
	}
	j, err := a.requests(ctx)
	if err != nil {
		return nil, err
	}
	list, err := j.store.RequestsGetAll(ctx, f, adminPage(b.Limitation))
	if err != nil {
		return nil, err
	}
	out := admin.AdminRequestPage{Requests: make([]admin.AdminRequest, len(list))}
	for i, e := range list {
		out.Requests[i] = adminRequest(e)
	}
	if len(list) > 0 {
		out.Cursor = &list[len(list)-1].ID
	}
	return admin.AdminRequestsGetAll200JSONResponse{Body: out,
		Headers: admin.AdminRequestsGetAll200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}

// AdminRequestsCount counts the entries that match a filter.
func (a adminServer) AdminRequestsCount(ctx context.Context, req admin.AdminRequestsCountRequestObject) (admin.AdminRequestsCountResponseObject, error) {
	f, err := requestFilter(*req.Body)
	if err != nil {
		return nil, err
	}
	j, err := a.requests(ctx)
	if err != nil {
		return nil, err
	}
	n, err := j.store.RequestsCount(ctx, f)
	if err != nil {
		return nil, err
	}
	return admin.AdminRequestsCount200JSONResponse{Body: admin.AdminRequestCount{Count: n, Dropped: j.dropped.Load()},
		Headers: admin.AdminRequestsCount200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}

// AdminRequestsClear empties the journal.
func (a adminServer) AdminRequestsClear(ctx context.Context, _ admin.AdminRequestsClearRequestObject) (admin.AdminRequestsClearResponseObject, error) {
	j, err := a.requests(ctx)
	if err != nil {
		return nil, err
	}
	if err := j.store.RequestsClear(ctx); err != nil {
		return nil, err
	}
	a.s.changes.changed()
	return admin.AdminRequestsClear200JSONResponse{Body: admin.AdminEmpty{},
		Headers: admin.AdminRequestsClear200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}

// requestFilter turns the filter of the admin API into the store's. The
// access token is matched by its hash and never kept.
func requestFilter(in admin.AdminRequestFilter) (mews.RequestFilter, error) {
	var f mews.RequestFilter
	if in.Operations != nil {
		f.Operations = *in.Operations
	}
	if in.IntegrationIds != nil {
		f.IntegrationIDs = *in.IntegrationIds
	}
	if in.AccessToken != nil {
		h := sha256.Sum256([]byte(*in.AccessToken))
		f.AccessTokenHash = h[:]
	}
	if in.Statuses != nil {
		for _, s := range *in.Statuses {
			f.Statuses = append(f.Statuses, int(s))
		}
	}
	if in.RequestIds != nil {
		f.IDs = *in.RequestIds
	}
	if in.MessageThreadIds != nil {
		f.ThreadIDs = *in.MessageThreadIds
	}
	if iv := in.CreatedUtc; iv != nil {
		// The bound rule of the API's intervals: an end in whole seconds
		// covers its second, since responses show instants truncated to it.
		start, end := iv.StartUtc.UTC(), iv.EndUtc.UTC()
		if end.Nanosecond() == 0 {
			end = end.Add(time.Second - time.Nanosecond)
		}
		if start.After(end) {
			return f, mews.Errorf(mews.EINVALID, "CreatedUtc.StartUtc must not be after CreatedUtc.EndUtc.")
		}
		f.Created = &mews.Interval{Start: start, End: end}
	}
	return f, nil
}

func adminRequest(e mews.Request) admin.AdminRequest {
	out := admin.AdminRequest{
		RequestId: e.ID, CreatedUtc: responseTime(e.CreatedUTC),
		Method: e.Method, Operation: e.Operation, EnterpriseIds: e.EnterpriseIDs,
		Status: int32(e.Status), DurationMs: float64(e.Duration.Microseconds()) / 1000,
		RequestBody: e.RequestBody, ResponseBody: e.ResponseBody, Truncated: e.Truncated,
		MessageThreadIds: e.ThreadIDs,
	}
	if e.IntegrationID != uuid.Nil {
		id, name := e.IntegrationID, e.IntegrationName
		out.IntegrationId, out.IntegrationName = &id, &name
	}
	if e.AccessToken != "" {
		tok := e.AccessToken
		out.AccessToken = &tok
	}
	if e.Message != "" {
		msg := e.Message
		out.Message = &msg
	}
	if out.EnterpriseIds == nil {
		out.EnterpriseIds = []uuid.UUID{}
	}
	if out.MessageThreadIds == nil {
		out.MessageThreadIds = []uuid.UUID{}
	}
	return out
}
