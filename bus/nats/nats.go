package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/confabhq/confab/bus"
	"github.com/confabhq/confab/eventstore"
	natsgo "github.com/nats-io/nats.go"
)

// Defaults of Config.
const (
	DefaultStream   = "CONFAB_EVENTS"
	DefaultMaxAge   = 2 * time.Minute
	DefaultMaxBytes = 256 << 20
)

// errCodeWrongLastMsgID is the JetStream API error of a publish whose
// Nats-Expected-Last-Msg-Id is not the stream's last message ID
// (JSStreamWrongLastMsgIDErrF; nats.go has no constant for it).
const errCodeWrongLastMsgID natsgo.ErrorCode = 10070

// wrongLastMsgID prefixes the description of that error, which ends with
// the stream's last message ID.
const wrongLastMsgID = "wrong last msg ID: "

// Config configures a Bus.
type Config struct {
	// URL is the NATS server URL (several may be given, comma-separated).
	URL string
	// Name names the connections in the server's monitoring (optional).
	Name string
	// Stream is the JetStream stream of committed events (DefaultStream).
	Stream string
	// MaxAge and MaxBytes bound what the stream keeps (DefaultMaxAge,
	// DefaultMaxBytes). The event store keeps the log: a short age only
	// makes consumers that were away longer read more from the store.
	MaxAge   time.Duration
	MaxBytes int64
	// Logger receives connection events and errors (discarded if nil).
	Logger *slog.Logger
}

// Bus is a watermill publisher and subscriber on NATS: committed events on
// JetStream, other topics on core NATS. It is safe for concurrent use.
//
// It publishes with watermill-nats, but subscribes with nats.go directly:
// watermill-nats' subscribers may send on a subscription's channel after
// closing it when the subscription ends while a message arrives (a data
// race, and a possible panic), which happens whenever a consumer stops on
// a busy bus.
type Bus struct {
	logger *slog.Logger
	stream string

	pubConn *natsgo.Conn // both publishers
	js      natsgo.JetStreamContext
	events  *wmnats.Publisher
	frames  *wmnats.Publisher

	subConn *natsgo.Conn // every subscription
	subJS   natsgo.JetStreamContext
	subs    sync.WaitGroup // running subscriptions
	mu      sync.Mutex
	closed  bool
	closing chan struct{} // closed by Close
}

var (
	_ message.Publisher  = (*Bus)(nil)
	_ message.Subscriber = (*Bus)(nil)
	_ bus.Chain          = (*Bus)(nil)
	_ bus.PayloadLimiter = (*Bus)(nil)
)

// Open connects to NATS, makes sure the events stream exists with the
// configured limits, and returns the bus. Close it when done.
func Open(ctx context.Context, cfg Config) (*Bus, error) {
	if cfg.URL == "" {
		return nil, errors.New("nats: open: no URL")
	}
	if cfg.Stream == "" {
		cfg.Stream = DefaultStream
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Bus{logger: cfg.Logger, stream: cfg.Stream, closing: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			b.Close()
		}
	}()
	var err error
	if b.pubConn, err = b.connect(cfg, "publish"); err != nil {
		return nil, err
	}
	if b.js, err = b.pubConn.JetStream(); err != nil {
		return nil, fmt.Errorf("nats: open: %w", err)
	}
	if err := ensureStream(ctx, b.js, cfg); err != nil {
		return nil, err
	}

	wlog := watermill.NewSlogLoggerWithLevelMapping(cfg.Logger, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	pubConfig := func(jetStream bool) wmnats.PublisherPublishConfig {
		return wmnats.PublisherPublishConfig{
			Marshaler:         &wmnats.NATSMarshaler{},
			SubjectCalculator: wmnats.DefaultSubjectCalculator,
			// The message ID (a position) is the Nats-Msg-Id, so that a
			// retried publish is stored once.
			JetStream: wmnats.JetStreamConfig{Disabled: !jetStream, TrackMsgID: true},
		}
	}
	if b.events, err = wmnats.NewPublisherWithNatsConn(b.pubConn, pubConfig(true), wlog); err != nil {
		return nil, fmt.Errorf("nats: open: %w", err)
	}
	if b.frames, err = wmnats.NewPublisherWithNatsConn(b.pubConn, pubConfig(false), wlog); err != nil {
		return nil, fmt.Errorf("nats: open: %w", err)
	}

	if b.subConn, err = b.connect(cfg, "subscribe"); err != nil {
		return nil, err
	}
	if b.subJS, err = b.subConn.JetStream(); err != nil {
		return nil, fmt.Errorf("nats: open: %w", err)
	}
	ok = true
	return b, nil
}

// connect opens a connection that reconnects forever.
func (b *Bus) connect(cfg Config, purpose string) (*natsgo.Conn, error) {
	name := "confab " + purpose
	if cfg.Name != "" {
		name = cfg.Name + " " + purpose
	}
	conn, err := natsgo.Connect(cfg.URL,
		natsgo.Name(name),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(250*time.Millisecond),
		natsgo.DrainTimeout(5*time.Second),
		natsgo.DisconnectErrHandler(func(_ *natsgo.Conn, err error) {
			if err != nil {
				b.logger.Warn("nats: disconnected", "conn", purpose, "err", err)
			}
		}),
		natsgo.ReconnectHandler(func(c *natsgo.Conn) {
			b.logger.Info("nats: reconnected", "conn", purpose, "url", c.ConnectedUrl())
		}),
		natsgo.ErrorHandler(func(_ *natsgo.Conn, sub *natsgo.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			b.logger.Warn("nats: asynchronous error", "conn", purpose, "subject", subject, "err", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("nats: connect to %s: %w", cfg.URL, err)
	}
	return conn, nil
}

// ensureStream creates the events stream, or updates it to cfg.
func ensureStream(ctx context.Context, js natsgo.JetStreamContext, cfg Config) error {
	sc := &natsgo.StreamConfig{
		Name:        cfg.Stream,
		Description: "confab committed events, fanned out to every node (the event store holds the log)",
		Subjects:    []string{bus.Topic},
		Retention:   natsgo.LimitsPolicy,
		Storage:     natsgo.FileStorage,
		Discard:     natsgo.DiscardOld,
		MaxAge:      cfg.MaxAge,
		MaxBytes:    cfg.MaxBytes,
		Duplicates:  min(time.Minute, cfg.MaxAge),
	}
	_, err := js.AddStream(sc, natsgo.Context(ctx))
	if errors.Is(err, natsgo.ErrStreamNameAlreadyInUse) {
		_, err = js.UpdateStream(sc, natsgo.Context(ctx))
	}
	if err != nil {
		return fmt.Errorf("nats: create stream %s: %w", cfg.Stream, err)
	}
	return nil
}

// Publish publishes messages on topic: through JetStream for bus.Topic,
// core NATS otherwise.
//
// Errors are marked transient (eventstore.AsTransient): the connection
// reconnects by itself.
func (b *Bus) Publish(topic string, msgs ...*message.Message) error {
	if topic == bus.Topic {
		return eventstore.AsTransient(b.events.Publish(topic, msgs...))
	}
	return eventstore.AsTransient(b.frames.Publish(topic, msgs...))
}

// PublishAfter publishes msg on bus.Topic if the stream's last message has
// ID last, or if last is "" and the stream has no last message with an ID;
// see bus.Chain. The first check is JetStream's Nats-Expected-Last-Msg-Id;
// the second reads the last message and expects its sequence number
// (Nats-Expected-Last-Sequence). Other topics have no order to keep: msg
// is published unconditionally.
func (b *Bus) PublishAfter(topic, last string, msg *message.Message) error {
	if topic != bus.Topic {
		return b.frames.Publish(topic, msg)
	}
	msg = msg.Copy()
	if last != "" {
		msg.Metadata.Set(natsgo.ExpectedLastMsgIdHdr, last)
	} else {
		seq, id, err := b.lastMessage()
		if err != nil {
			return eventstore.AsTransient(err)
		}
		if id != "" {
			return &bus.NotLastError{Last: id}
		}
		msg.Metadata.Set(natsgo.ExpectedLastSeqHdr, strconv.FormatUint(seq, 10))
	}
	err := b.events.Publish(topic, msg)
	var apiErr *natsgo.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case errCodeWrongLastMsgID:
			actual, _ := strings.CutPrefix(apiErr.Description, wrongLastMsgID)
			return &bus.NotLastError{Last: actual}
		case natsgo.JSErrCodeStreamWrongLastSequence:
			return &bus.NotLastError{} // another message came: ask again
		}
	}
	return eventstore.AsTransient(err)
}

// headerRoom is what MaxPayload leaves of the server's limit for the
// message's headers (its ID, the expected last ID or sequence).
const headerRoom = 1024

// MaxPayload returns the largest payload a message may have: the server's
// max_payload (1 MiB by default) less room for headers. The relay splits
// batches to fit (bus.PayloadLimiter).
func (b *Bus) MaxPayload() int { return int(b.pubConn.MaxPayload()) - headerRoom }

// lastMessage returns the sequence number of the stream's last message and
// its ID, or the stream's last sequence number (0 if it never had a
// message) and "" if it has no messages.
func (b *Bus) lastMessage() (seq uint64, id string, err error) {
	for try := 0; ; try++ {
		m, err := b.js.GetLastMsg(b.stream, bus.Topic)
		if errors.Is(err, natsgo.ErrMsgNotFound) {
			info, err := b.js.StreamInfo(b.stream)
			if err != nil {
				return 0, "", fmt.Errorf("nats: stream %s: %w", b.stream, err)
			}
			if info.State.Msgs > 0 && try < 10 {
				// Another relay published between the two reads: its
				// message, not this sequence number, is the last one.
				continue
			}
			return info.State.LastSeq, "", nil
		}
		if err != nil {
			return 0, "", fmt.Errorf("nats: last message of %s: %w", b.stream, err)
		}
		return m.Sequence, m.Header.Get(natsgo.MsgIdHdr), nil
	}
}

// Subscribe returns the messages published on topic from now on, until ctx
// ends or the bus closes; then the channel closes. Messages come one at a
// time: the next one after the consumer acks (or nacks) this one. On
// bus.Topic they come from an ordered JetStream consumer, in the stream's
// order, each once, unless the connection fails for longer than the
// stream keeps messages; on other topics, from core NATS, at most once.
func (b *Bus) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errors.New("nats: subscribe: bus closed")
	}
	s := &subscription{out: make(chan *message.Message), done: make(chan struct{}), logger: b.logger}
	var err error
	if topic == bus.Topic {
		// Heartbeats every 2 s (instead of 5 s) find a lost consumer
		// sooner after a reconnect.
		s.sub, err = b.subJS.Subscribe(topic, s.deliver, natsgo.BindStream(b.stream),
			natsgo.OrderedConsumer(), natsgo.DeliverNew(), natsgo.IdleHeartbeat(2*time.Second))
	} else {
		s.sub, err = b.subConn.Subscribe(topic, s.deliver)
	}
	if err != nil {
		return nil, eventstore.AsTransient(fmt.Errorf("nats: subscribe to %s: %w", topic, err))
	}
	b.subs.Add(1)
	go func() {
		defer b.subs.Done()
		defer s.end()
		// nats.go drops a subscription it cannot repair (an ordered
		// consumer it cannot recreate, say after the stream was deleted):
		// end ours then, so that the consumer sees its channel close
		// instead of waiting forever.
		check := time.NewTicker(validityCheck)
		defer check.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-b.closing:
				return
			case <-check.C:
				if !s.sub.IsValid() {
					b.logger.Error("nats: subscription lost", "subject", topic)
					return
				}
			}
		}
	}()
	return s.out, nil
}

// validityCheck is how often a subscription checks that nats.go still
// delivers to it.
const validityCheck = 5 * time.Second

// subscription hands the messages of one NATS subscription to a channel.
type subscription struct {
	sub    *natsgo.Subscription
	out    chan *message.Message
	done   chan struct{} // closed when the subscription ends
	logger *slog.Logger

	mu     sync.RWMutex // held for reading while delivering, for writing to close out
	closed bool
}

// deliver is the NATS message handler (one call at a time per
// subscription): it sends the message and waits for the consumer's ack.
func (s *subscription) deliver(m *natsgo.Msg) {
	msg, err := (&wmnats.NATSMarshaler{}).Unmarshal(m)
	if err != nil {
		s.logger.Warn("nats: unreadable message", "subject", m.Subject, "err", err)
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return
	}
	select {
	case s.out <- msg:
	case <-s.done:
		return
	}
	select {
	case <-msg.Acked():
	case <-msg.Nacked(): // not redelivered: Follow reads what it lacks from the store
	case <-s.done:
	}
}

// end unsubscribes and closes the channel, once no delivery can send on it.
func (s *subscription) end() {
	close(s.done)
	if err := s.sub.Unsubscribe(); err != nil && !errors.Is(err, natsgo.ErrConnectionClosed) && !errors.Is(err, natsgo.ErrBadSubscription) {
		s.logger.Warn("nats: unsubscribe", "subject", s.sub.Subject, "err", err)
	}
	s.mu.Lock()
	s.closed = true
	close(s.out)
	s.mu.Unlock()
}

// Health returns nil while both connections to NATS are up, else which is
// not (gateway.HealthChecker: /readyz answers 503 with it). While NATS is
// away the node delivers nothing live from other nodes.
func (b *Bus) Health(context.Context) error {
	for _, c := range []struct {
		name string
		conn *natsgo.Conn
	}{{"publish", b.pubConn}, {"subscribe", b.subConn}} {
		if st := c.conn.Status(); st != natsgo.CONNECTED {
			return fmt.Errorf("nats %s connection is %s", c.name, strings.ToLower(st.String()))
		}
	}
	return nil
}

// Close ends the subscriptions (their channels close) and the
// connections.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.closing)
	b.mu.Unlock()
	b.subs.Wait()
	var errs []error
	if b.subConn != nil {
		b.subConn.Close()
	}
	if b.pubConn != nil {
		if err := b.pubConn.Flush(); err != nil && !errors.Is(err, natsgo.ErrConnectionClosed) {
			errs = append(errs, err)
		}
		b.pubConn.Close()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("nats: close: %w", err)
	}
	return nil
}
