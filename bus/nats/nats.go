package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/confabhq/confab/bus"
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
type Bus struct {
	logger *slog.Logger
	stream string

	pubConn  *natsgo.Conn // both publishers
	js       natsgo.JetStreamContext
	events   *wmnats.Publisher
	frames   *wmnats.Publisher
	eventsIn *wmnats.Subscriber // on its own connection, which it drains on Close
	framesIn *wmnats.Subscriber // likewise
}

var (
	_ message.Publisher  = (*Bus)(nil)
	_ message.Subscriber = (*Bus)(nil)
	_ bus.Chain          = (*Bus)(nil)
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
	b := &Bus{logger: cfg.Logger, stream: cfg.Stream}
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

	subConfig := func(jetStream bool) wmnats.SubscriberSubscriptionConfig {
		c := wmnats.SubscriberSubscriptionConfig{
			Unmarshaler:       unmarshaler{},
			SubscribersCount:  1,
			SubjectCalculator: wmnats.DefaultSubjectCalculator,
			CloseTimeout:      5 * time.Second,
			SubscribeTimeout:  10 * time.Second,
			JetStream:         wmnats.JetStreamConfig{Disabled: !jetStream},
		}
		if jetStream {
			// Heartbeats every 2 s (instead of 5 s) find a lost consumer
			// sooner after a reconnect.
			c.JetStream.SubscribeOptions = []natsgo.SubOpt{natsgo.OrderedConsumer(), natsgo.DeliverNew(), natsgo.IdleHeartbeat(2 * time.Second)}
		}
		return c
	}
	for _, s := range []struct {
		sub       **wmnats.Subscriber
		jetStream bool
		name      string
	}{{&b.eventsIn, true, "events"}, {&b.framesIn, false, "frames"}} {
		conn, err := b.connect(cfg, "subscribe "+s.name)
		if err != nil {
			return nil, err
		}
		if *s.sub, err = wmnats.NewSubscriberWithNatsConn(conn, subConfig(s.jetStream), wlog); err != nil {
			conn.Close()
			return nil, fmt.Errorf("nats: open: %w", err)
		}
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
func (b *Bus) Publish(topic string, msgs ...*message.Message) error {
	if topic == bus.Topic {
		return b.events.Publish(topic, msgs...)
	}
	return b.frames.Publish(topic, msgs...)
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
			return err
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
	return err
}

// lastMessage returns the sequence number of the stream's last message and
// its ID, or the stream's last sequence number (0 if it never had a
// message) and "" if it has no messages.
func (b *Bus) lastMessage() (seq uint64, id string, err error) {
	m, err := b.js.GetLastMsg(b.stream, bus.Topic)
	if errors.Is(err, natsgo.ErrMsgNotFound) {
		info, err := b.js.StreamInfo(b.stream)
		if err != nil {
			return 0, "", fmt.Errorf("nats: stream %s: %w", b.stream, err)
		}
		return info.State.LastSeq, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("nats: last message of %s: %w", b.stream, err)
	}
	return m.Sequence, m.Header.Get(natsgo.MsgIdHdr), nil
}

// Subscribe returns the messages published on topic from now on: for
// bus.Topic in the stream's order, each once, unless the connection fails
// for longer than the stream keeps messages.
func (b *Bus) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if topic == bus.Topic {
		return b.eventsIn.Subscribe(ctx, topic)
	}
	return b.framesIn.Subscribe(ctx, topic)
}

// Close ends the subscriptions (their channels close) and the
// connections.
func (b *Bus) Close() error {
	var errs []error
	for _, s := range []*wmnats.Subscriber{b.eventsIn, b.framesIn} {
		if s != nil {
			errs = append(errs, s.Close())
		}
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

// unmarshaler reads messages as watermill's NATSMarshaler writes them,
// and drops their reply subject: ordered consumers take no acks, and
// watermill acks only messages that have one (it would log an error for
// every message otherwise).
type unmarshaler struct{}

func (unmarshaler) Unmarshal(m *natsgo.Msg) (*message.Message, error) {
	m.Reply = ""
	return (&wmnats.NATSMarshaler{}).Unmarshal(m)
}
