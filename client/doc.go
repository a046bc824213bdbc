// Package client is a small Go client for the messaging operations of the
// Mews Connector API (message threads and messages), as answered by the
// reference server in this module or by the real platform.
//
// It is a thin layer over the client that oapi-codegen generates from
// openapi/messaging.yaml (package gen). The generated client maps the API
// one to one, so every call has to repeat the credentials, build the
// Limitation by hand and check nine possible response fields. This package
// adds what every integration otherwise rewrites:
//
//   - the credentials are given once, to [New], and put into every body;
//   - one method per operation, taking a small request struct and returning
//     the generated model types ([gen.MessageThread], [gen.Message], ...);
//   - iterators over all pages ([Client.AllThreads], [Client.AllMessages])
//     that follow the cursor from the newest item to the oldest;
//   - retries of rate-limited (429) and failed (408, 5xx, network) requests,
//     see [RetryPolicy] for which ones and why;
//   - one error type, [*Error], for every answer that is not a success.
//
// A Client is safe for concurrent use by several goroutines.
//
// # Usage
//
//	c, err := client.New("https://api.mews-demo.com", client.Credentials{
//		ClientToken: clientToken,
//		AccessToken: accessToken,
//		Client:      "MyApp 1.0",
//	})
//	if err != nil {
//		return err
//	}
//	thread, err := c.AddThread(ctx, client.AddThreadRequest{
//		OriginalSender: "John Doe",
//		Subject:        "Breakfast",
//	})
//	if err != nil {
//		return err
//	}
//	_, err = c.AddMessages(ctx, []gen.MessageParameters{
//		{MessageThreadId: thread.Id, Text: "Is breakfast included?"},
//	})
//	if err != nil {
//		return err
//	}
//	for msg, err := range c.AllMessages(ctx, client.MessagesQuery{
//		MessageThreadIds: []uuid.UUID{thread.Id},
//	}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(msg.CreatedUtc, msg.Sender.Discriminator, msg.Text)
//	}
//
// # Errors
//
// An answer other than a success is returned as an [*Error] carrying the
// status code, the Message and RequestId of the error body and, for 429,
// the wait the server asked for:
//
//	var apiErr *client.Error
//	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusBadRequest {
//		log.Printf("rejected: %s (request %s)", apiErr.Message, apiErr.RequestId)
//	}
//
// Network failures and cancelled contexts are returned as the underlying
// error, so errors.Is(err, context.Canceled) works as usual.
package client
