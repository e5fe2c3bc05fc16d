package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
)

// Upload uploads body as a file named name to room. If chunked, the
// request has no Content-Length.
func (c *Client) Upload(ctx context.Context, room, name string, body []byte, chunked bool) (Attachment, error) {
	var rd io.Reader = bytes.NewReader(body)
	if chunked {
		rd = readerOf(body) // a type net/http cannot take a length from
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Base+"/api/v1/rooms/"+url.PathEscape(room)+"/attachments?name="+url.QueryEscape(name), rd)
	if err != nil {
		return Attachment{}, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Attachment{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return Attachment{}, err
	}
	if resp.StatusCode >= 300 {
		var e struct{ Error Error }
		json.Unmarshal(data, &e)
		e.Error.Status = resp.StatusCode
		return Attachment{}, &e.Error
	}
	var out struct{ Attachment Attachment }
	return out.Attachment, json.Unmarshal(data, &out)
}

// Fetch GETs path (an attachment's url or thumbnail_url) and returns the
// response, its body read.
func (c *Client) Fetch(ctx context.Context, path string, header http.Header) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+path, nil)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp, data, err
}

// PostFiles posts a message with attachments.
func (c *Client) PostFiles(ctx context.Context, room, clientMsgID, text string, ids []string) (Message, error) {
	var out struct{ Message Message }
	err := c.Do(ctx, http.MethodPost, "/api/v1/rooms/"+room+"/messages", map[string]any{"client_msg_id": clientMsgID, "text": text, "attachments": ids}, &out)
	return out.Message, err
}

type bytesReader struct {
	b []byte
	i int
}

func (r *bytesReader) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}

func readerOf(b []byte) io.Reader { return &bytesReader{b: b} }
