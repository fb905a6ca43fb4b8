package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// PutEventsEntry is one entry of a PutEvents request (EventBridge's
// spelling; Detail is the detail's JSON as a string).
type PutEventsEntry struct {
	Source       string `json:"Source"`
	DetailType   string `json:"DetailType"`
	Detail       string `json:"Detail"`
	EventBusName string `json:"EventBusName,omitempty"`
}

// PutEventsResult is PutEvents' answer.
type PutEventsResult struct {
	FailedEntryCount int `json:"FailedEntryCount"`
	Entries          []struct {
		EventID      string `json:"EventId,omitempty"`
		ErrorCode    string `json:"ErrorCode,omitempty"`
		ErrorMessage string `json:"ErrorMessage,omitempty"`
	} `json:"Entries"`
}

// PutEvents publishes entries to local mode through EventBridge's JSON 1.1
// protocol (X-Amz-Target: AWSEvents.PutEvents), on the same port as the
// API. It returns the answer, whose entries may have failed one by one
// (FailedEntryCount), and the answer's bytes. The request is signed when
// the client has a Signer (local mode ignores the signature).
func (c *Client) PutEvents(ctx context.Context, entries []PutEventsEntry) (PutEventsResult, json.RawMessage, error) {
	var out PutEventsResult
	body, err := json.Marshal(map[string]any{"Entries": entries})
	if err != nil {
		return out, nil, err
	}
	u := strings.TrimRight(c.BaseURL, "/") + "/"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return out, nil, fmt.Errorf("bad URL: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AWSEvents.PutEvents")
	if c.Signer != nil {
		if err := c.Signer.Sign(ctx, req, body); err != nil {
			return out, nil, fmt.Errorf("sign request: %w", err)
		}
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return out, nil, &NetworkError{Method: "PutEvents", URL: u, Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return out, nil, &NetworkError{Method: "PutEvents", URL: u, Err: err}
	}
	if resp.StatusCode != http.StatusOK {
		// EventBridge errors: {"__type":"...","message":"..."}.
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(raw, &e)
		msg := e.Message
		if msg == "" {
			msg = strings.TrimSpace(string(raw))
		}
		if e.Type != "" {
			msg = e.Type + ": " + msg
		}
		return out, raw, &Error{Status: resp.StatusCode, Code: e.Type, Message: "PutEvents: " + Redact(msg)}
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return out, raw, fmt.Errorf("PutEvents: unexpected answer: %v", err)
	}
	return out, raw, nil
}
