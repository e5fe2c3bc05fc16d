// Package natstest runs an embedded NATS server with JetStream for tests,
// as NATS's own tests do: in the test process, on a random loopback port,
// with its JetStream data in t.TempDir().
//
//	url := natstest.Start(t) // nats://127.0.0.1:PORT, shut down when the test ends
//
// Processes the test starts (confab nodes) reach it at that URL. Restart
// stops the server and starts it again on the same port and data, for
// tests of reconnection.
package natstest
