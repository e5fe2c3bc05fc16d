package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/confabhq/confab/gateway"
)

func TestHealthz(t *testing.T) {
	tests := []struct {
		name       string
		ping       error
		wantStatus int
		wantBody   string
	}{
		{"store up", nil, http.StatusOK, `{"status":"ok"}`},
		{"store down", errors.New("connection refused"), http.StatusServiceUnavailable, `"status":"unavailable"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := gateway.New(gateway.PingFunc(func(context.Context) error { return tt.ping }), nil)
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			g.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
			if rec.Code != tt.wantStatus || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Fatalf("GET /healthz = %d %s, want %d containing %s", rec.Code, rec.Body, tt.wantStatus, tt.wantBody)
			}
			if strings.Contains(rec.Body.String(), "refused") {
				t.Errorf("health body leaks the internal error: %s", rec.Body)
			}
		})
	}
	if _, err := gateway.New(nil, nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}
