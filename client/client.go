package client

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/mewsref/mewsref/gen"
)

// Credentials authenticate every request. They are sent in the JSON body of
// each request, as the Connector API requires, never in headers.
type Credentials struct {
	// ClientToken identifies the integration (the application).
	ClientToken string
	// AccessToken identifies the integration's connection to one
	// enterprise, or several for a portfolio access token.
	AccessToken string
	// Client is the name and version of the calling application, e.g.
	// "MyApp 1.0"; Mews uses it to tell integrations apart in its logs.
	Client string
}

// Client calls the messaging operations of the Connector API. Create it
// with [New]; it is safe for concurrent use.
type Client struct {
	creds Credentials
	// reads and writes are the same generated client over two retrying
	// doers, because reads and writes are retried differently (see
	// RetryPolicy) and every operation is a POST.
	reads  gen.ClientInterface
	writes gen.ClientInterface
}

// Option configures a Client in [New].
type Option func(*config)

type config struct {
	httpClient *http.Client
	retry      RetryPolicy
	sleep      func(context.Context, time.Duration) error
	jitter     func(int64) int64
	now        func() time.Time
}

// DefaultTimeout bounds each attempt of a request made with the default
// HTTP client, so that a server that never answers cannot hang the caller
// forever. Pass a context with a deadline to bound a call with all its
// retries.
const DefaultTimeout = 30 * time.Second

// WithHTTPClient sends the requests through hc instead of a default
// *http.Client (whose Timeout is DefaultTimeout), for proxies, TLS settings,
// tracing transports or tests. Retries happen around hc, so hc.Timeout
// bounds a single attempt.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) {
		if hc != nil {
			c.httpClient = hc
		}
	}
}

// WithRetry replaces the default retry policy; zero fields of p take their
// defaults (see [RetryPolicy]).
func WithRetry(p RetryPolicy) Option {
	return func(c *config) { c.retry = p }
}

// WithoutRetries sends every request exactly once, for callers that have
// their own retry logic.
func WithoutRetries() Option {
	return func(c *config) { c.retry = RetryPolicy{MaxAttempts: 1} }
}

// New returns a Client for the server at baseURL, the root of the platform
// (e.g. "https://api.mews-demo.com" or "http://127.0.0.1:8080"; the
// operation paths /api/connector/v1/... are appended). All three
// credentials are required: the API refuses any request without them, so
// an empty one is reported here rather than on every call.
func New(baseURL string, creds Credentials, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("mews: invalid base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("mews: invalid base URL %q: want http(s)://host[:port][/path]", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("mews: invalid base URL %q: no query or fragment allowed", baseURL)
	}
	switch {
	case creds.ClientToken == "":
		return nil, errors.New("mews: Credentials.ClientToken is empty")
	case creds.AccessToken == "":
		return nil, errors.New("mews: Credentials.AccessToken is empty")
	case creds.Client == "":
		return nil, errors.New("mews: Credentials.Client is empty")
	}

	cfg := config{
		retry:  DefaultRetryPolicy(),
		sleep:  sleepContext,
		jitter: defaultJitter,
		now:    time.Now,
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	if cfg.httpClient == nil {
		cfg.httpClient = &http.Client{Timeout: DefaultTimeout}
	}

	reads, err := gen.NewClient(baseURL, gen.WithHTTPClient(newRetryDoer(cfg.httpClient, &cfg, false)))
	if err != nil {
		return nil, fmt.Errorf("mews: %w", err)
	}
	writes, err := gen.NewClient(baseURL, gen.WithHTTPClient(newRetryDoer(cfg.httpClient, &cfg, true)))
	if err != nil {
		return nil, fmt.Errorf("mews: %w", err)
	}
	return &Client{creds: creds, reads: reads, writes: writes}, nil
}

// AddThreadRequest is the input of [Client.AddThread].
type AddThreadRequest struct {
	// OriginalSender is the customer who sent the original message
	// (required).
	OriginalSender string
	// Subject of the thread (required).
	Subject string
}

// AddThread creates a message thread on behalf of a customer
// (messageThreads/add) and returns it. The thread belongs to this
// integration and to the enterprise of the access token; a portfolio
// access token is refused because the operation names no enterprise.
func (c *Client) AddThread(ctx context.Context, r AddThreadRequest) (gen.MessageThread, error) {
	const op = "messageThreads/add"
	rsp, err := c.writes.MessageThreadsAdd(ctx, gen.MessageThreadAddParameters{
		ClientToken:    c.creds.ClientToken,
		AccessToken:    c.creds.AccessToken,
		Client:         c.creds.Client,
		OriginalSender: r.OriginalSender,
		Subject:        r.Subject,
	})
	parsed, err := finish(op, rsp, err, gen.ParseMessageThreadsAddResponse)
	if err != nil {
		return gen.MessageThread{}, err
	}
	if parsed.JSON200 == nil {
		return gen.MessageThread{}, unexpected(op, parsed.HTTPResponse)
	}
	if n := len(parsed.JSON200.MessageThreads); n != 1 {
		return gen.MessageThread{}, fmt.Errorf("mews: %s: got %d threads, want 1", op, n)
	}
	return parsed.JSON200.MessageThreads[0], nil
}

// AddMessages adds messages to threads that this integration created
// (messages/add) and returns them in the order given, each with the
// Identifier of its request item. The batch is all or nothing: if one item
// is invalid, nothing is added and the error is a 400 *Error. 1 to 1000
// messages per call.
func (c *Client) AddMessages(ctx context.Context, messages []gen.MessageParameters) ([]gen.AddedMessage, error) {
	const op = "messages/add"
	rsp, err := c.writes.MessagesAdd(ctx, gen.MessageAddParameters{
		ClientToken: c.creds.ClientToken,
		AccessToken: c.creds.AccessToken,
		Client:      c.creds.Client,
		Messages:    messages,
	})
	parsed, err := finish(op, rsp, err, gen.ParseMessagesAddResponse)
	if err != nil {
		return nil, err
	}
	if parsed.JSON200 == nil {
		return nil, unexpected(op, parsed.HTTPResponse)
	}
	return parsed.JSON200.Messages, nil
}

// DefaultCount is the page size used when a query's Count is 0.
const DefaultCount = 100

// ThreadsQuery selects message threads for [Client.GetThreads] and
// [Client.AllThreads]. At least one of MessageThreadIds, CreatedUtc and
// UpdatedUtc is required by the API; filters combine with AND.
//
// A nil slice or interval is not sent. A non-nil empty slice is sent as
// [], which the API refuses (it would otherwise silently mean "no filter").
type ThreadsQuery struct {
	// EnterpriseIds restricts a portfolio access token to these
	// enterprises; nil means all that the token covers.
	EnterpriseIds []uuid.UUID
	// MessageThreadIds selects threads by id (1 to 1000).
	MessageThreadIds []uuid.UUID
	// CreatedUtc and UpdatedUtc select threads created or last updated
	// within the interval, inclusive at both ends, at most 3 months long.
	CreatedUtc *gen.TimeInterval
	UpdatedUtc *gen.TimeInterval
	// Count is the page size, 1 to 1000; 0 means DefaultCount.
	Count int
	// Cursor continues after the thread with this id (the Cursor of the
	// previous page); nil starts at the newest thread.
	Cursor *uuid.UUID
}

// ThreadsPage is one page of threads, newest first.
type ThreadsPage struct {
	Threads []gen.MessageThread
	// Cursor is the id of the last (oldest) thread of the page; pass it as
	// ThreadsQuery.Cursor to get the next, older page. Nil when the page
	// is empty.
	Cursor *uuid.UUID
}

// GetThreads returns one page of the threads that this integration created
// (messageThreads/getAll). Use [Client.AllThreads] to visit every page.
func (c *Client) GetThreads(ctx context.Context, q ThreadsQuery) (ThreadsPage, error) {
	const op = "messageThreads/getAll"
	rsp, err := c.reads.MessageThreadsGetAll(ctx, nil, gen.MessageThreadFilterParameters{
		ClientToken:      c.creds.ClientToken,
		AccessToken:      c.creds.AccessToken,
		Client:           c.creds.Client,
		EnterpriseIds:    optionalIDs(q.EnterpriseIds),
		MessageThreadIds: optionalIDs(q.MessageThreadIds),
		CreatedUtc:       q.CreatedUtc,
		UpdatedUtc:       q.UpdatedUtc,
		Limitation:       limitation(q.Count, q.Cursor),
	})
	parsed, err := finish(op, rsp, err, gen.ParseMessageThreadsGetAllResponse)
	if err != nil {
		return ThreadsPage{}, err
	}
	if parsed.StatusCode() == http.StatusNoContent {
		return ThreadsPage{}, nil
	}
	if parsed.JSON200 == nil {
		return ThreadsPage{}, unexpected(op, parsed.HTTPResponse)
	}
	return ThreadsPage{Threads: parsed.JSON200.MessageThreads, Cursor: parsed.JSON200.Cursor}, nil
}

// AllThreads iterates over all the threads that q selects, newest first,
// fetching page after page from q.Cursor (nil: the newest) until a page is
// empty or shorter than q.Count. Pages are fetched as the loop goes, so
// breaking out of the loop stops fetching. On a failure the error is
// yielded once, with a zero thread, and the iteration ends.
//
//	for thread, err := range c.AllThreads(ctx, q) {
//		if err != nil {
//			return err
//		}
//		...
//	}
func (c *Client) AllThreads(ctx context.Context, q ThreadsQuery) iter.Seq2[gen.MessageThread, error] {
	return paginate(q.Count, q.Cursor, func(cursor *uuid.UUID) ([]gen.MessageThread, *uuid.UUID, error) {
		q.Cursor = cursor
		page, err := c.GetThreads(ctx, q)
		return page.Threads, page.Cursor, err
	})
}

// MessagesQuery selects messages for [Client.GetMessages] and
// [Client.AllMessages].
type MessagesQuery struct {
	// EnterpriseIds restricts a portfolio access token to these
	// enterprises; nil means all that the token covers.
	EnterpriseIds []uuid.UUID
	// MessageThreadIds are the threads whose messages are returned
	// (required, 1 to 1000). Threads of other integrations match nothing.
	MessageThreadIds []uuid.UUID
	// CreatedUtc selects messages created within the interval, inclusive
	// at both ends, at most 1 month long; nil means any time.
	CreatedUtc *gen.TimeInterval
	// Count is the page size, 1 to 1000; 0 means DefaultCount.
	Count int
	// Cursor continues after the message with this id (the Cursor of the
	// previous page); nil starts at the newest message.
	Cursor *uuid.UUID
}

// MessagesPage is one page of messages, newest first.
type MessagesPage struct {
	Messages []gen.Message
	// Cursor is the id of the last (oldest) message of the page; pass it
	// as MessagesQuery.Cursor to get the next, older page. Nil when the
	// page is empty.
	Cursor *uuid.UUID
}

// GetMessages returns one page of the messages of the given threads
// (messages/getAll). Use [Client.AllMessages] to visit every page.
func (c *Client) GetMessages(ctx context.Context, q MessagesQuery) (MessagesPage, error) {
	const op = "messages/getAll"
	rsp, err := c.reads.MessagesGetAll(ctx, nil, gen.MessageFilterParameters{
		ClientToken:      c.creds.ClientToken,
		AccessToken:      c.creds.AccessToken,
		Client:           c.creds.Client,
		EnterpriseIds:    optionalIDs(q.EnterpriseIds),
		MessageThreadIds: q.MessageThreadIds,
		CreatedUtc:       q.CreatedUtc,
		Limitation:       limitation(q.Count, q.Cursor),
	})
	parsed, err := finish(op, rsp, err, gen.ParseMessagesGetAllResponse)
	if err != nil {
		return MessagesPage{}, err
	}
	if parsed.StatusCode() == http.StatusNoContent {
		return MessagesPage{}, nil
	}
	if parsed.JSON200 == nil {
		return MessagesPage{}, unexpected(op, parsed.HTTPResponse)
	}
	return MessagesPage{Messages: parsed.JSON200.Messages, Cursor: parsed.JSON200.Cursor}, nil
}

// AllMessages iterates over all the messages that q selects, newest first,
// fetching page after page like [Client.AllThreads].
func (c *Client) AllMessages(ctx context.Context, q MessagesQuery) iter.Seq2[gen.Message, error] {
	return paginate(q.Count, q.Cursor, func(cursor *uuid.UUID) ([]gen.Message, *uuid.UUID, error) {
		q.Cursor = cursor
		page, err := c.GetMessages(ctx, q)
		return page.Messages, page.Cursor, err
	})
}

// paginate turns a page fetcher into an iterator over the items of all
// pages. Each run of the iterator starts again at start.
func paginate[T any](count int, start *uuid.UUID, fetch func(cursor *uuid.UUID) ([]T, *uuid.UUID, error)) iter.Seq2[T, error] {
	if count == 0 {
		count = DefaultCount
	}
	return func(yield func(T, error) bool) {
		var zero T
		cursor := start
		for {
			items, next, err := fetch(cursor)
			if err != nil {
				yield(zero, err)
				return
			}
			for _, item := range items {
				if !yield(item, nil) {
					return
				}
			}
			if len(items) == 0 || len(items) < count || next == nil {
				return
			}
			if cursor != nil && *next == *cursor {
				// The server answered the same page again: following it
				// would loop forever.
				yield(zero, fmt.Errorf("mews: the server returned cursor %s again", next))
				return
			}
			cursor = next
		}
	}
}

// finish turns the generated client's raw answer into its parsed form for
// the successes (200, and 204 for an empty page), and into an *Error for
// any other status. It does not use the generated ...WithResponse methods
// because their parsers fail on an error body that is not valid JSON, or a
// Retry-After that is not an integer, and the status would be lost.
func finish[R any](op string, rsp *http.Response, err error, parse func(*http.Response) (R, error)) (R, error) {
	var zero R
	if err != nil {
		return zero, fmt.Errorf("mews: %s: %w", op, err)
	}
	if rsp.StatusCode != http.StatusOK && rsp.StatusCode != http.StatusNoContent {
		return zero, newError(rsp)
	}
	parsed, err := parse(rsp)
	if err != nil {
		return zero, fmt.Errorf("mews: %s: decoding the answer: %w", op, err)
	}
	return parsed, nil
}

func optionalIDs(ids []uuid.UUID) *[]uuid.UUID {
	if ids == nil {
		return nil
	}
	return &ids
}

func limitation(count int, cursor *uuid.UUID) gen.Limitation {
	if count == 0 {
		count = DefaultCount
	}
	// Out-of-range counts are sent as they are (clamped to int32 so that
	// they do not wrap around) and the server explains what is wrong.
	count = min(max(count, math.MinInt32), math.MaxInt32)
	return gen.Limitation{Count: int32(count), Cursor: cursor}
}
