package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/mews"
)

// AdminPrefix is the path prefix of the admin API (openapi/admin.yaml).
const AdminPrefix = "/_admin/"

// adminServer implements the admin API: the enterprise's side of the
// conversation, the data as a whole and the webhooks. It is a type of its
// own so that its method names cannot clash with the messaging API's.
type adminServer struct {
	s     *Server
	store mews.Admin
}

var _ admin.StrictServerInterface = adminServer{}

// adminAuth returns the check of the admin token of every request under
// AdminPrefix, made before anything else reads the request. Both sides are
// hashed, so that the constant-time comparison does not leak the token's
// length either.
func adminAuth(token string) func(echo.Context) error {
	want := sha256.Sum256([]byte(token))
	return func(c echo.Context) error {
		if !strings.HasPrefix(c.Request().URL.Path, AdminPrefix) {
			return nil
		}
		got, ok := strings.CutPrefix(c.Request().Header.Get(echo.HeaderAuthorization), "Bearer ")
		if !ok {
			return mews.Errorf(mews.EUNAUTHORIZED, "The admin API needs the header Authorization: Bearer <admin token>.")
		}
		if sum := sha256.Sum256([]byte(got)); subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			return mews.Errorf(mews.EUNAUTHORIZED, "The bearer token of the Authorization header is not the admin token this server was started with (-admin-token).")
		}
		requestInfoFrom(c.Request().Context()).integration = "admin"
		return nil
	}
}

// owner is the scope of the integration that created t: the scope in which
// the enterprise's messages are added and read, so that they behave
// exactly like the integration's own (UpdatedUTC, webhooks, pages).
func owner(t mews.Thread) mews.Scope {
	return mews.Scope{IntegrationID: t.IntegrationID, EnterpriseIDs: []uuid.UUID{t.EnterpriseID}}
}

// AdminMessagesAdd adds a message as the enterprise.
func (a adminServer) AdminMessagesAdd(ctx context.Context, req admin.AdminMessagesAddRequestObject) (admin.AdminMessagesAddResponseObject, error) {
	t, err := a.store.ThreadGet(ctx, req.Body.MessageThreadId)
	if err != nil {
		return nil, err
	}
	m := mews.Message{ID: a.s.newID(), ThreadID: t.ID, Text: req.Body.Text, Sender: mews.SenderEnterprise, CreatedUTC: a.s.now()}
	if err := a.s.addMessages(ctx, owner(t), []mews.Message{m}); err != nil {
		return nil, err
	}
	return admin.AdminMessagesAdd200JSONResponse{
		Body:    admin.AdminMessageResult{Message: adminMessage(m)},
		Headers: admin.AdminMessagesAdd200ResponseHeaders{RequestId: RequestID(ctx)},
	}, nil
}

// AdminMessageThreadsResolve resolves or reopens a thread.
func (a adminServer) AdminMessageThreadsResolve(ctx context.Context, req admin.AdminMessageThreadsResolveRequestObject) (admin.AdminMessageThreadsResolveResponseObject, error) {
	t, err := a.store.ThreadSetResolved(ctx, req.Body.MessageThreadId, req.Body.IsResolved)
	if err != nil {
		return nil, err
	}
	a.s.changes.changed()
	return admin.AdminMessageThreadsResolve200JSONResponse{
		Body:    admin.AdminMessageThreadResult{MessageThread: adminThread(t)},
		Headers: admin.AdminMessageThreadsResolve200ResponseHeaders{RequestId: RequestID(ctx)},
	}, nil
}

func adminPage(l admin.Limitation) mews.Page {
	return mews.Page{Cursor: l.Cursor, Count: int(l.Count)}
}

// AdminMessageThreadsGetAll lists the threads of an enterprise.
func (a adminServer) AdminMessageThreadsGetAll(ctx context.Context, req admin.AdminMessageThreadsGetAllRequestObject) (admin.AdminMessageThreadsGetAllResponseObject, error) {
	ts, err := a.store.EnterpriseThreads(ctx, req.Body.EnterpriseId, adminPage(req.Body.Limitation))
	if err != nil {
		return nil, err
	}
	out := admin.AdminMessageThreadPage{MessageThreads: make([]admin.MessageThread, len(ts))}
	for i, t := range ts {
		out.MessageThreads[i] = adminThread(t)
	}
	if len(ts) > 0 {
		out.Cursor = &ts[len(ts)-1].ID
	}
	return admin.AdminMessageThreadsGetAll200JSONResponse{Body: out,
		Headers: admin.AdminMessageThreadsGetAll200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}

// AdminMessagesGetAll lists the messages of any thread.
func (a adminServer) AdminMessagesGetAll(ctx context.Context, req admin.AdminMessagesGetAllRequestObject) (admin.AdminMessagesGetAllResponseObject, error) {
	t, err := a.store.ThreadGet(ctx, req.Body.MessageThreadId)
	if err != nil {
		return nil, err
	}
	ms, err := a.s.store.MessagesGetAll(ctx, mews.MessageFilter{
		Scope: owner(t), ThreadIDs: []uuid.UUID{t.ID}, Page: adminPage(req.Body.Limitation)})
	if err != nil {
		return nil, err
	}
	out := admin.AdminMessagePage{Messages: make([]admin.Message, len(ms))}
	for i, m := range ms {
		out.Messages[i] = adminMessage(m)
	}
	if len(ms) > 0 {
		out.Cursor = &ms[len(ms)-1].ID
	}
	return admin.AdminMessagesGetAll200JSONResponse{Body: out,
		Headers: admin.AdminMessagesGetAll200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}

// AdminReset deletes all threads, messages and deliveries.
func (a adminServer) AdminReset(ctx context.Context, _ admin.AdminResetRequestObject) (admin.AdminResetResponseObject, error) {
	if err := a.store.Reset(ctx); err != nil {
		return nil, err
	}
	a.s.changes.changed()
	return admin.AdminReset200JSONResponse{Body: admin.AdminEmpty{},
		Headers: admin.AdminReset200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}

// integration returns the configured integration id, or ENOTFOUND.
func (a adminServer) integration(id uuid.UUID) (integration, error) {
	for _, in := range a.s.tokens.integrations {
		if in.id == id {
			return in, nil
		}
	}
	return integration{}, mews.Errorf(mews.ENOTFOUND, "IntegrationId: no integration %s; see webhooks/getAll for the known ones.", id)
}

// AdminWebhooksSet replaces the webhook URLs of an integration.
func (a adminServer) AdminWebhooksSet(ctx context.Context, req admin.AdminWebhooksSetRequestObject) (admin.AdminWebhooksSetResponseObject, error) {
	in, err := a.integration(req.Body.IntegrationId)
	if err != nil {
		return nil, err
	}
	for _, u := range req.Body.Urls {
		if err := checkWebhookURL(u); err != nil {
			return nil, err
		}
	}
	if err := a.store.WebhooksSet(ctx, in.id, req.Body.Urls); err != nil {
		return nil, err
	}
	a.s.changes.changed()
	hooks, err := a.store.Webhooks(ctx)
	if err != nil {
		return nil, err
	}
	return admin.AdminWebhooksSet200JSONResponse{Body: adminWebhooks(in, hooks[in.id]),
		Headers: admin.AdminWebhooksSet200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}

// AdminWebhooksGetAll lists the configured integrations with their URLs.
func (a adminServer) AdminWebhooksGetAll(ctx context.Context, _ admin.AdminWebhooksGetAllRequestObject) (admin.AdminWebhooksGetAllResponseObject, error) {
	hooks, err := a.store.Webhooks(ctx)
	if err != nil {
		return nil, err
	}
	out := admin.AdminWebhooksResult{Webhooks: make([]admin.AdminWebhooks, len(a.s.tokens.integrations))}
	for i, in := range a.s.tokens.integrations {
		out.Webhooks[i] = adminWebhooks(in, hooks[in.id])
	}
	return admin.AdminWebhooksGetAll200JSONResponse{Body: out,
		Headers: admin.AdminWebhooksGetAll200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}

// AdminWebhookDeliveriesGetAll lists the newest deliveries.
func (a adminServer) AdminWebhookDeliveriesGetAll(ctx context.Context, req admin.AdminWebhookDeliveriesGetAllRequestObject) (admin.AdminWebhookDeliveriesGetAllResponseObject, error) {
	ds, err := a.store.Deliveries(ctx, req.Body.IntegrationId, int(req.Body.Count))
	if err != nil {
		return nil, err
	}
	out := admin.AdminDeliveriesResult{Deliveries: make([]admin.AdminDelivery, len(ds))}
	for i, d := range ds {
		if out.Deliveries[i], err = adminDelivery(d); err != nil {
			return nil, err
		}
	}
	return admin.AdminWebhookDeliveriesGetAll200JSONResponse{Body: out,
		Headers: admin.AdminWebhookDeliveriesGetAll200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}

func adminWebhooks(in integration, urls []string) admin.AdminWebhooks {
	name := in.name
	if urls == nil {
		urls = []string{}
	}
	return admin.AdminWebhooks{IntegrationId: in.id, Name: &name, Urls: urls}
}

func adminThread(t mews.Thread) admin.MessageThread {
	return admin.MessageThread{
		Id: t.ID, IntegrationId: t.IntegrationID, EnterpriseId: t.EnterpriseID,
		OriginalSender: t.OriginalSender, Subject: t.Subject,
		CreatedUtc: responseTime(t.CreatedUTC), UpdatedUtc: responseTime(t.UpdatedUTC), IsResolved: t.IsResolved,
	}
}

func adminMessage(m mews.Message) admin.Message {
	return admin.Message{
		Id: m.ID, MessageThreadId: m.ThreadID, Text: m.Text, CreatedUtc: responseTime(m.CreatedUTC),
		Sender: admin.Sender{Discriminator: admin.SenderDiscriminator(m.Sender)},
	}
}

// seconds writes attempt times in the API's precision; zero is null.
func seconds(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	s := responseTime(t)
	return &s
}

func adminDelivery(d mews.Delivery) (admin.AdminDelivery, error) {
	out := admin.AdminDelivery{
		Id: d.ID, IntegrationId: d.IntegrationID, Url: d.URL, Status: admin.AdminDeliveryStatus(d.Status),
		Attempts: int32(d.Attempts), CreatedUtc: responseTime(d.CreatedUTC),
		NextAttemptUtc: seconds(d.NextAttemptUTC), LastAttemptUtc: seconds(d.LastAttemptUTC),
	}
	if err := json.Unmarshal(d.Payload, &out.Payload); err != nil {
		return out, fmt.Errorf("delivery %d: payload: %w", d.ID, err)
	}
	if d.LastStatusCode != 0 {
		c := int32(d.LastStatusCode)
		out.LastStatusCode = &c
	}
	if d.LastError != "" {
		e := d.LastError
		out.LastError = &e
	}
	return out, nil
}
