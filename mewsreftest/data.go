package mewsreftest

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/server"
)

// Fixtures, snapshots and redelivery: the admin API's data/import,
// data/export and webhookDeliveries/redeliver, with the names of the CLI's
// mewsref import, mewsref export and mewsref deliveries redeliver.

// WithSeed imports the fixture file at start, as the binary's -seed does:
// JSON or YAML in the shape of data/import (see examples/fixtures), so
// that a test starts with a known history. New fails the test if the file
// cannot be read or imported.
func WithSeed(file string) Option {
	return func(s *settings) {
		seed, err := server.LoadFixture(file)
		if err != nil {
			s.err = err
			return
		}
		s.cfg.Seed = seed
	}
}

// Import stores threads and messages as given (data/import): their Id,
// CreatedUtc, UpdatedUtc, IsResolved and Sender, all or nothing; an item
// whose Id is stored already stays as it is. It returns what was added.
func (s *Server) Import(tb testing.TB, data admin.DataImportParameters) admin.DataImportResult {
	tb.Helper()
	res, err := s.admin.AdminDataImportWithResponse(context.Background(), data)
	if err == nil {
		err = answer(res.StatusCode(), res.Body)
	}
	check(tb, "data/import", err)
	return *res.JSON200
}

// ImportFile is Import of a fixture or snapshot file, JSON or YAML, as
// mewsref import FILE does.
func (s *Server) ImportFile(tb testing.TB, file string) admin.DataImportResult {
	tb.Helper()
	data, err := server.LoadFixture(file)
	check(tb, "data/import", err)
	return s.Import(tb, *data)
}

// Export returns the stored threads and messages that filter selects (the
// zero value: all) in the shape that Import reads (data/export): after
// Export, Reset and Import every getAll answers as before.
func (s *Server) Export(tb testing.TB, filter admin.DataExportParameters) admin.DataExport {
	tb.Helper()
	res, err := s.admin.AdminDataExportWithResponse(context.Background(), filter)
	if err == nil {
		err = answer(res.StatusCode(), res.Body)
	}
	check(tb, "data/export", err)
	return *res.JSON200
}

// Redeliver sends webhook delivery id again (webhookDeliveries/redeliver),
// as a new delivery of the same payload to the same URL, due at once, and
// returns the new delivery.
func (s *Server) Redeliver(tb testing.TB, id int64) admin.AdminDelivery {
	tb.Helper()
	return s.redeliver(tb, admin.AdminRedeliverParameters{Id: id})
}

// RedeliverTo is Redeliver to another URL (the Url of
// webhookDeliveries/redeliver, mewsref deliveries redeliver --to), e.g. a
// Receiver's.
func (s *Server) RedeliverTo(tb testing.TB, id int64, url string) admin.AdminDelivery {
	tb.Helper()
	return s.redeliver(tb, admin.AdminRedeliverParameters{Id: id, Url: &url})
}

func (s *Server) redeliver(tb testing.TB, p admin.AdminRedeliverParameters) admin.AdminDelivery {
	tb.Helper()
	res, err := s.admin.AdminWebhookDeliveriesRedeliverWithResponse(context.Background(), p)
	if err == nil {
		err = answer(res.StatusCode(), res.Body)
	}
	check(tb, "webhookDeliveries/redeliver", err)
	return res.JSON200.Delivery
}

// Deliveries returns the newest webhook deliveries, at most n
// (webhookDeliveries/getAll), for the Id that Redeliver takes.
func (s *Server) Deliveries(tb testing.TB, n int) []admin.AdminDelivery {
	tb.Helper()
	return s.deliveries(tb, admin.AdminDeliveriesParameters{Count: int32(n)})
}

// DeliveriesFor is Deliveries of one integration only (the IntegrationId
// of webhookDeliveries/getAll, mewsref deliveries --integration).
func (s *Server) DeliveriesFor(tb testing.TB, integration uuid.UUID, n int) []admin.AdminDelivery {
	tb.Helper()
	return s.deliveries(tb, admin.AdminDeliveriesParameters{Count: int32(n), IntegrationId: &integration})
}

func (s *Server) deliveries(tb testing.TB, p admin.AdminDeliveriesParameters) []admin.AdminDelivery {
	tb.Helper()
	res, err := s.admin.AdminWebhookDeliveriesGetAllWithResponse(context.Background(), p)
	if err == nil {
		err = answer(res.StatusCode(), res.Body)
	}
	check(tb, "webhookDeliveries/getAll", err)
	return res.JSON200.Deliveries
}
