package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/confabhq/confab/domain"
	"github.com/confabhq/confab/eventstore"
)

// Error codes of the API, beyond the domain's kinds. docs/protocol.md
// lists them all.
const (
	CodeInvalidJSON      = "invalid_json"
	CodeUnknownType      = "unknown_type"
	CodeFrameTooLarge    = "frame_too_large"
	CodeBodyTooLarge     = "body_too_large"
	CodeRateLimited      = "rate_limited"
	CodeSlowConsumer     = "slow_consumer"
	CodeNotSubscribed    = "not_subscribed"
	CodeAuthTimeout      = "auth_timeout"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
	CodeUnauthenticated  = "unauthenticated"
	CodeCallsUnavailable = "calls_unavailable"
	CodeNotInCall        = "not_in_call"
	CodeInvalidSDP       = "invalid_sdp"
	// CodeCallHostUnavailable: the node hosting the call did not answer
	// a relayed call frame in time (503, retry after a few seconds).
	CodeCallHostUnavailable = "call_host_unavailable"

	CodeCSRF                 = "csrf"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeTooManyConnections   = "too_many_connections"
	CodeTooManySubscriptions = "too_many_subscriptions"
)

// apiError is an error as the API shows it.
type apiError struct {
	Status     int           `json:"-"`
	RetryAfter time.Duration `json:"-"`
	Code       string        `json:"code"`
	Message    string        `json:"message"`
}

// kinds maps error kinds to statuses: the one table that translates
// errors at the edge.
var kinds = map[domain.Kind]int{
	domain.KindInvalid:         http.StatusBadRequest,
	domain.KindNotFound:        http.StatusNotFound,
	domain.KindConflict:        http.StatusConflict,
	domain.KindForbidden:       http.StatusForbidden,
	domain.KindUnauthenticated: http.StatusUnauthorized,
	domain.KindRateLimited:     http.StatusTooManyRequests,
	domain.KindUnavailable:     http.StatusServiceUnavailable,
}

// toAPIError translates err once; internal errors are logged here and
// shown without detail.
func toAPIError(err error, logger *slog.Logger) apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return *ae
	}
	var de *domain.Error
	if errors.As(err, &de) && de.Kind != domain.KindInternal {
		msg := de.Message
		if de.Op != "" {
			msg = de.Op + ": " + msg
		}
		return apiError{Status: kinds[de.Kind], Code: de.Kind.String(), Message: msg, RetryAfter: de.RetryAfter}
	}
	switch {
	case errors.Is(err, eventstore.ErrInvalid):
		return apiError{Status: http.StatusBadRequest, Code: domain.KindInvalid.String(), Message: err.Error()}
	case errors.Is(err, eventstore.ErrConflict):
		return apiError{Status: http.StatusConflict, Code: domain.KindConflict.String(), Message: "the resource changed; try again"}
	case errors.Is(err, eventstore.ErrUnavailable):
		logger.Debug("event store unavailable", "err", err)
		return apiError{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, RetryAfter: time.Second,
			Message: "messages cannot be stored right now; try again shortly"}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, eventstore.ErrClosed):
		logger.Warn("request could not finish", "err", err)
		return apiError{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "the server is busy or shutting down; try again"}
	case eventstore.IsTransient(err):
		// The read models' database is down or restarting: the loops
		// log that once; requests are refused, not logged.
		logger.Debug("database unavailable", "err", err)
		return apiError{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, RetryAfter: time.Second,
			Message: "the database cannot be reached right now; try again shortly"}
	}
	logger.Error("internal error", "err", err)
	return apiError{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"}
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, msg string) *apiError {
	return &apiError{Status: status, Code: code, Message: msg}
}
