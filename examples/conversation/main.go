// Command conversation plays the "customer messaging" use case of the
// Connector API end to end against a running mewsref server started with
// -admin-token: the app (an integration) opens a thread for a guest and
// posts the guest's message, the enterprise replies in "Mews" (the admin
// API), the app receives the MessageAdded webhook, fetches the reply with
// messages/getAll, and sees the thread resolved.
//
//	go run ./cmd/mewsref -db :memory: -admin-token secret &
//	go run ./examples/conversation -url http://127.0.0.1:8080 -admin-token secret
//
// The app's webhook receiver listens on a free local port; the example
// points the webhooks of the first demo integration at it for the length of
// the run, and puts the integration's URLs back as they were when it ends,
// also when it fails or is interrupted (Ctrl-C).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/client"
	"github.com/mewsref/mewsref/gen"
	"github.com/mewsref/mewsref/gen/admin"
	"github.com/mewsref/mewsref/server"
)

func main() {
	url := flag.String("url", "http://127.0.0.1:8080", "mewsref server")
	adminToken := flag.String("admin-token", os.Getenv("MEWSREF_ADMIN_TOKEN"), "the server's admin token")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	err := run(ctx, *url, *adminToken)
	cancel()
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "conversation:", err)
		os.Exit(1)
	}
}

// webhook is the General Webhook body (see MEWS-API.md, Events).
type webhook struct {
	EnterpriseID  uuid.UUID `json:"EnterpriseId"`
	IntegrationID uuid.UUID `json:"IntegrationId"`
	Events        []struct {
		Discriminator string
		Value         struct {
			ID uuid.UUID `json:"Id"`
		}
	}
}

// receive starts the app's webhook endpoint; each MessageAdded event's
// message id arrives on the channel. It answers at once, as receivers must.
func receive() (string, <-chan uuid.UUID, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, nil, err
	}
	added := make(chan uuid.UUID, 100)
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var h webhook
		if err := json.NewDecoder(r.Body).Decode(&h); err != nil {
			http.Error(w, "bad webhook", http.StatusBadRequest)
			return
		}
		for _, e := range h.Events {
			if e.Discriminator == "MessageAdded" {
				added <- e.Value.ID
			}
		}
		w.WriteHeader(http.StatusAccepted)
	})}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/mews/webhooks", added, func() { _ = srv.Close() }, nil
}

// await waits for the webhook of message id.
func await(ctx context.Context, added <-chan uuid.UUID, id uuid.UUID) error {
	for {
		select {
		case got := <-added:
			if got == id {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("no MessageAdded webhook for %s: %w", id, ctx.Err())
		}
	}
}

func run(ctx context.Context, url, adminToken string) (err error) {
	if adminToken == "" {
		return errors.New("-admin-token is required")
	}
	demo := server.DemoIntegrations()[0]
	app, err := client.New(url, client.Credentials{ClientToken: demo.ClientToken, AccessToken: demo.AccessTokens[0].Token, Client: "Conversation example 1.0"})
	if err != nil {
		return err
	}
	enterprise, err := admin.NewClientWithResponses(url, admin.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+adminToken)
		return nil
	}))
	if err != nil {
		return err
	}

	// The app's webhook endpoint, registered for its integration.
	hookURL, added, stop, err := receive()
	if err != nil {
		return err
	}
	defer stop()
	hooks, err := enterprise.AdminWebhooksGetAllWithResponse(ctx, admin.AdminEmpty{})
	if err != nil || hooks.JSON200 == nil {
		return fmt.Errorf("webhooks/getAll: %v %s", err, body(hooks))
	}
	var integration uuid.UUID
	var before []string
	for _, w := range hooks.JSON200.Webhooks {
		if w.Name != nil && *w.Name == demo.Name {
			integration, before = w.IntegrationId, w.Urls
		}
	}
	set, err := enterprise.AdminWebhooksSetWithResponse(ctx, admin.AdminWebhooks{IntegrationId: integration, Urls: []string{hookURL}})
	if err != nil || set.JSON200 == nil {
		return fmt.Errorf("webhooks/set: %v %s", err, body(set))
	}
	// Whatever happens next, the integration's webhooks must not be left
	// pointing at this receiver, which dies with the example. ctx may be
	// done by then (timeout, Ctrl-C): the restore has a time of its own.
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if before == nil {
			before = []string{}
		}
		r, rerr := enterprise.AdminWebhooksSetWithResponse(rctx, admin.AdminWebhooks{IntegrationId: integration, Urls: before})
		if rerr != nil || r.JSON200 == nil {
			err = errors.Join(err, fmt.Errorf("restoring the webhook URLs of %q to %v: %v %s", demo.Name, before, rerr, body(r)))
			return
		}
		fmt.Printf("app: webhooks of %q restored to %v\n", demo.Name, before)
	}()
	fmt.Printf("app: webhooks of %q go to %s\n", demo.Name, hookURL)

	// 1. The app opens a thread for the guest and posts the guest's message.
	thread, err := app.AddThread(ctx, client.AddThreadRequest{OriginalSender: "John Doe", Subject: "Late check-in"})
	if err != nil {
		return err
	}
	fmt.Printf("app: thread %s %q\n", thread.Id, thread.Subject)
	posted, err := app.AddMessages(ctx, []gen.MessageParameters{{MessageThreadId: thread.Id, Text: "I will arrive at 23:00, is that all right?"}})
	if err != nil {
		return err
	}
	fmt.Printf("app: message %s posted\n", posted[0].Message.Id)
	if err := await(ctx, added, posted[0].Message.Id); err != nil {
		return err
	}
	fmt.Println("app: webhook MessageAdded for its own message")

	// 2. An employee answers in Mews.
	reply, err := enterprise.AdminMessagesAddWithResponse(ctx, admin.AdminMessageAddParameters{MessageThreadId: thread.Id, Text: "No problem, the night desk is open."})
	if err != nil || reply.JSON200 == nil {
		return fmt.Errorf("enterprise reply: %v %s", err, body(reply))
	}
	replyID := reply.JSON200.Message.Id
	fmt.Printf("enterprise: replied %s\n", replyID)

	// 3. The app is notified and fetches the reply.
	if err := await(ctx, added, replyID); err != nil {
		return err
	}
	fmt.Println("app: webhook MessageAdded for the reply")
	page, err := app.GetMessages(ctx, client.MessagesQuery{MessageThreadIds: []uuid.UUID{thread.Id}, Count: 10})
	if err != nil {
		return err
	}
	var found *gen.Message
	for i, m := range page.Messages {
		if m.Id == replyID {
			found = &page.Messages[i]
		}
	}
	if found == nil || found.Sender.Discriminator != gen.Enterprise {
		return fmt.Errorf("messages/getAll does not have the enterprise's reply %s", replyID)
	}
	fmt.Printf("app: fetched the reply from %s: %q\n", found.Sender.Discriminator, found.Text)

	// 4. The employee resolves the thread; the app sees it.
	res, err := enterprise.AdminMessageThreadsResolveWithResponse(ctx, admin.AdminResolveParameters{MessageThreadId: thread.Id, IsResolved: true})
	if err != nil || res.JSON200 == nil {
		return fmt.Errorf("resolve: %v %s", err, body(res))
	}
	threads, err := app.GetThreads(ctx, client.ThreadsQuery{MessageThreadIds: []uuid.UUID{thread.Id}, Count: 1})
	if err != nil {
		return err
	}
	if len(threads.Threads) != 1 || !threads.Threads[0].IsResolved {
		return errors.New("the app does not see the thread resolved")
	}
	fmt.Println("app: the thread is resolved")
	fmt.Println("conversation complete")
	return nil
}

// body is the raw answer of a generated admin response, for errors.
func body(r interface{ StatusCode() int }) string {
	switch v := r.(type) {
	case *admin.AdminWebhooksGetAllResponse:
		if v != nil {
			return string(v.Body)
		}
	case *admin.AdminWebhooksSetResponse:
		if v != nil {
			return string(v.Body)
		}
	case *admin.AdminMessagesAddResponse:
		if v != nil {
			return string(v.Body)
		}
	case *admin.AdminMessageThreadsResolveResponse:
		if v != nil {
			return string(v.Body)
		}
	}
	return ""
}
