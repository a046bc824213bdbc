package server

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gopkg.in/yaml.v3"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/internal/spec"
	"github.com/mewsref/mewsref/mews"
)

// Fixtures and snapshots: data/import, data/export and -seed
// (openapi/admin.yaml, tag Fixtures). One import step serves the admin API
// and the seed file, so both read the same shape with the same rules.

// importNamespace derives the Id of an imported item that has none from its
// content, so that importing the same file twice stores it once.
var importNamespace = uuid.MustParse("5d3f6c1e-8a0b-4f7e-9c2d-1b4a6e8f0c3d")

// AdminDataImport stores threads and messages as given.
func (a adminServer) AdminDataImport(ctx context.Context, req admin.AdminDataImportRequestObject) (admin.AdminDataImportResponseObject, error) {
	c, err := a.s.importData(ctx, a.store, *req.Body)
	if err != nil {
		return nil, err
	}
	a.s.changes.changed()
	return admin.AdminDataImport200JSONResponse{Body: importResult(c),
		Headers: admin.AdminDataImport200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}

func importResult(c mews.ImportCounts) admin.DataImportResult {
	return admin.DataImportResult{
		AddedMessageThreads: int32(c.AddedThreads), AddedMessages: int32(c.AddedMessages),
		ExistingMessageThreads: int32(c.ExistingThreads), ExistingMessages: int32(c.ExistingMessages),
	}
}

// AdminDataExport writes the selected threads and messages in the shape
// that data/import reads.
func (a adminServer) AdminDataExport(ctx context.Context, req admin.AdminDataExportRequestObject) (admin.AdminDataExportResponseObject, error) {
	ts, ms, err := a.store.DataExport(ctx, mews.ExportFilter{IntegrationID: req.Body.IntegrationId, EnterpriseID: req.Body.EnterpriseId})
	if err != nil {
		return nil, err
	}
	out := admin.DataExport{MessageThreads: make([]admin.SnapshotMessageThread, len(ts)), Messages: make([]admin.SnapshotMessage, len(ms))}
	for i, t := range ts {
		out.MessageThreads[i] = admin.SnapshotMessageThread{
			Id: t.ID, IntegrationId: t.IntegrationID, EnterpriseId: t.EnterpriseID,
			OriginalSender: t.OriginalSender, Subject: t.Subject,
			CreatedUtc: snapshotInstant(t.CreatedUTC), UpdatedUtc: snapshotInstant(t.UpdatedUTC), IsResolved: t.IsResolved,
		}
	}
	for i, m := range ms {
		out.Messages[i] = admin.SnapshotMessage{
			Id: m.ID, MessageThreadId: m.ThreadID, Text: m.Text, CreatedUtc: snapshotInstant(m.CreatedUTC),
			Sender: admin.Sender{Discriminator: admin.SenderDiscriminator(m.Sender)},
		}
	}
	return admin.AdminDataExport200JSONResponse{Body: out,
		Headers: admin.AdminDataExport200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}

// snapshotInstant writes an instant as stored: UTC, with its fraction of
// a second (microseconds at most, the stores' resolution), unlike the API's
// whole seconds.
func snapshotInstant(t time.Time) admin.SnapshotInstant {
	return t.UTC().Format("2006-01-02T15:04:05.999999Z")
}

// importData is the one import step: it turns the items into threads and
// messages (checking what the server knows: integrations, their
// enterprises), orders them oldest first and stores them.
func (s *Server) importData(ctx context.Context, store mews.Admin, p admin.DataImportParameters) (mews.ImportCounts, error) {
	threads, msgs, err := s.importItems(p)
	if err != nil {
		return mews.ImportCounts{}, err
	}
	var webhooksAt *time.Time
	if p.SendWebhooks != nil && *p.SendWebhooks {
		now := s.now()
		webhooksAt = &now
	}
	c, err := store.DataImport(ctx, threads, msgs, webhooksAt)
	if err != nil {
		return c, err
	}
	if webhooksAt != nil && c.AddedMessages > 0 {
		s.webhooks.wake()
	}
	return c, nil
}

func (s *Server) importItems(p admin.DataImportParameters) ([]mews.Thread, []mews.Message, error) {
	if p.IntegrationId != nil {
		if _, ok := s.integrationOf(*p.IntegrationId); !ok {
			return nil, nil, mews.Errorf(mews.EINVALID, "IntegrationId: no integration %s; see webhooks/getAll for the known ones.", *p.IntegrationId)
		}
	}
	var d derivedIDs
	threads := make([]mews.Thread, len(p.MessageThreads))
	for i, it := range p.MessageThreads {
		at := threadAt(i)
		in, en := it.IntegrationId, it.EnterpriseId
		if in == nil {
			in = p.IntegrationId
		}
		if en == nil {
			en = p.EnterpriseId
		}
		if in == nil {
			return nil, nil, mews.Errorf(mews.EINVALID, "%s.IntegrationId: required, as the import has no IntegrationId.", at)
		}
		if en == nil {
			return nil, nil, mews.Errorf(mews.EINVALID, "%s.EnterpriseId: required, as the import has no EnterpriseId.", at)
		}
		integ, ok := s.integrationOf(*in)
		if !ok {
			return nil, nil, mews.Errorf(mews.EINVALID, "%s.IntegrationId: no integration %s; see webhooks/getAll for the known ones.", at, *in)
		}
		if !slices.Contains(integ.enterprises, *en) {
			return nil, nil, mews.Errorf(mews.EINVALID,
				"%s.EnterpriseId: %s is not an enterprise of an access token of integration %q, so no client could see the thread.", at, *en, integ.name)
		}
		t := mews.Thread{
			IntegrationID: *in, EnterpriseID: *en, OriginalSender: it.OriginalSender, Subject: it.Subject,
			CreatedUTC: mews.Instant(it.CreatedUtc), UpdatedUTC: mews.Instant(it.CreatedUtc),
		}
		if it.UpdatedUtc != nil {
			if it.UpdatedUtc.Before(it.CreatedUtc) {
				return nil, nil, mews.Errorf(mews.EINVALID, "%s.UpdatedUtc: it is before CreatedUtc.", at)
			}
			t.UpdatedUTC = mews.Instant(*it.UpdatedUtc)
		}
		if it.IsResolved != nil {
			t.IsResolved = *it.IsResolved
		}
		if it.Id != nil {
			t.ID = *it.Id
		} else {
			t.ID = d.thread(t)
		}
		threads[i] = t
	}
	var items []admin.ImportMessage
	if p.Messages != nil {
		items = *p.Messages
	}
	msgs := make([]mews.Message, len(items))
	for i, it := range items {
		m := mews.Message{ThreadID: it.MessageThreadId, Text: it.Text, Sender: mews.Sender(it.Sender.Discriminator), CreatedUTC: mews.Instant(it.CreatedUtc)}
		if it.Id != nil {
			m.ID = *it.Id
		} else {
			m.ID = d.message(m)
		}
		msgs[i] = m
	}
	return oldestFirst(threads, func(t mews.Thread) time.Time { return t.CreatedUTC }),
		oldestFirst(msgs, func(m mews.Message) time.Time { return m.CreatedUTC }), nil
}

// threadAt is where the error of the thread at i of an import is: a
// fmt.Stringer, so that the many threads of an import that has no error
// allocate no text.
type threadAt int

func (i threadAt) String() string { return fmt.Sprintf("MessageThreads[%d]", int(i)) }

// derivedIDs derives the Id of an imported item that has none: a name-based
// UUID (SHA-1, importNamespace) of its content, NUL-separated, each id as
// uuid.UUID.String writes it and each instant as time.RFC3339Nano. Its
// buffer and hash serve every item of an import.
type derivedIDs struct {
	b []byte
	h hash.Hash
}

func (d *derivedIDs) thread(t mews.Thread) uuid.UUID {
	d.b = append(d.b[:0], "thread\x00"...)
	d.b = append(appendUUIDText(d.b, t.IntegrationID), 0)
	d.b = append(appendUUIDText(d.b, t.EnterpriseID), 0)
	d.b = append(t.CreatedUTC.AppendFormat(d.b, time.RFC3339Nano), 0)
	d.b = append(append(append(d.b, t.OriginalSender...), 0), t.Subject...)
	return d.sum()
}

func (d *derivedIDs) message(m mews.Message) uuid.UUID {
	d.b = append(d.b[:0], "message\x00"...)
	d.b = append(appendUUIDText(d.b, m.ThreadID), 0)
	d.b = append(append(d.b, m.Sender...), 0)
	d.b = append(m.CreatedUTC.AppendFormat(d.b, time.RFC3339Nano), 0)
	d.b = append(d.b, m.Text...)
	return d.sum()
}

func (d *derivedIDs) sum() uuid.UUID {
	if d.h == nil {
		d.h = sha1.New()
	}
	return uuid.NewHash(d.h, importNamespace, d.b, 5) // as uuid.NewSHA1
}

func (s *Server) integrationOf(id uuid.UUID) (integration, bool) {
	for _, in := range s.tokens.integrations {
		if in.id == id {
			return in, true
		}
	}
	return integration{}, false
}

// oldestFirst turns a list written newest first, as the API writes pages,
// into the order of insertion: by CreatedUTC, and of items created at the
// same instant the one listed last first. A list in any other order gets
// the same result for all but those ties.
func oldestFirst[T any](items []T, created func(T) time.Time) []T {
	slices.Reverse(items)
	slices.SortStableFunc(items, func(a, b T) int { return created(a).Compare(created(b)) })
	return items
}

// seed imports Config.Seed at start.
func (s *Server) seed(store mews.Admin, p admin.DataImportParameters) error {
	if store == nil {
		return fmt.Errorf("seed: the store %T does not implement mews.Admin", s.store)
	}
	c, err := s.importData(context.Background(), store, p)
	if err != nil {
		return fmt.Errorf("seed: %w", plainError(err))
	}
	s.log.Info("seed imported", "added_threads", c.AddedThreads, "added_messages", c.AddedMessages,
		"existing_threads", c.ExistingThreads, "existing_messages", c.ExistingMessages)
	return nil
}

// LoadFixture reads a seed file: the body of data/import as JSON or YAML,
// checked against its schema in openapi/admin.yaml like a request.
func LoadFixture(path string) (*admin.DataImportParameters, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read fixture: %w", err)
	}
	p, err := ParseFixture(b)
	if err != nil {
		return nil, fmt.Errorf("fixture %s: %w", path, err)
	}
	return p, nil
}

// ParseFixture decodes a fixture, JSON or YAML (a superset of JSON).
func ParseFixture(b []byte) (*admin.DataImportParameters, error) {
	var doc any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	doc, err := jsonValue(doc)
	if err != nil {
		return nil, err
	}
	adminDoc, err := spec.LoadAdmin(false)
	if err != nil {
		return nil, err
	}
	schema := adminDoc.Components.Schemas["DataImportParameters"].Value
	if err := schema.VisitJSON(doc, append(adminDoc.GetSchemaValidationOptions(), openapi3.MultiErrors())...); err != nil {
		return nil, plainError(schemaViolation(err))
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	var p admin.DataImportParameters
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// plainError is the text of a client error for a person at a terminal:
// its Message, or every violation it lists, without the code.
func plainError(err error) error {
	var e *mews.Error
	if !errors.As(err, &e) {
		return err
	}
	if vs, ok := e.Details.([]Violation); ok && len(vs) > 1 {
		msgs := make([]string, len(vs))
		for i, v := range vs {
			msgs[i] = v.Message
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	return errors.New(e.Message)
}

// jsonValue turns a decoded YAML document into the values encoding/json
// would have decoded: string keys, float64 numbers, instants as the text
// they were written as.
func jsonValue(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			var err error
			if out[k], err = jsonValue(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			ks, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("a key of the fixture is %v, not a string", k)
			}
			var err error
			if out[ks], err = jsonValue(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			var err error
			if out[i], err = jsonValue(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case time.Time:
		return v.Format(time.RFC3339Nano), nil
	case int:
		return float64(v), nil
	case int64:
		return float64(v), nil
	case uint64:
		return float64(v), nil
	}
	return v, nil
}

// AdminWebhookDeliveriesRedeliver queues a delivery's payload again.
func (a adminServer) AdminWebhookDeliveriesRedeliver(ctx context.Context, req admin.AdminWebhookDeliveriesRedeliverRequestObject) (admin.AdminWebhookDeliveriesRedeliverResponseObject, error) {
	var url string
	if req.Body.Url != nil {
		url = *req.Body.Url
		if err := checkWebhookURL(url); err != nil {
			return nil, err
		}
	}
	d, err := a.store.DeliveryRedeliver(ctx, req.Body.Id, url, a.s.clock())
	if err != nil {
		return nil, err
	}
	a.s.webhooks.wake()
	a.s.changes.changed()
	out, err := adminDelivery(d)
	if err != nil {
		return nil, err
	}
	return admin.AdminWebhookDeliveriesRedeliver200JSONResponse{Body: admin.AdminDeliveryResult{Delivery: out},
		Headers: admin.AdminWebhookDeliveriesRedeliver200ResponseHeaders{RequestId: RequestID(ctx)}}, nil
}
