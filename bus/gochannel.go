package bus

import (
	"log/slog"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
)

// NewGoChannel returns the in-process bus. Publishing waits until every
// subscriber has taken the message, which keeps messages in order.
func NewGoChannel(logger *slog.Logger) *gochannel.GoChannel {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return gochannel.NewGoChannel(gochannel.Config{
		OutputChannelBuffer:            64,
		BlockPublishUntilSubscriberAck: true,
	}, watermill.NewSlogLoggerWithLevelMapping(logger, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug}))
}
