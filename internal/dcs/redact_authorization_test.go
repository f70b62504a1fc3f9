package dcs

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestErrorsNeverCarryTheAuthorizationHeader: a server (or a proxy in
// front of it) that echoes the request's Authorization header into its
// error answer must not get the signature into the error, which ends up in
// conditions, events and logs. A signature is a credential for its request
// for the 15 minutes the gateway accepts its date.
func TestErrorsNeverCarryTheAuthorizationHeader(t *testing.T) {
	answers := map[string]func(w http.ResponseWriter, auth string){
		"401 JSON message": func(w http.ResponseWriter, auth string) {
			writeJSON(w, 401, fmt.Sprintf(`{"error_code":"APIG.0301","error_msg":"Incorrect IAM authentication information: %s"}`, auth))
		},
		"401 code field": func(w http.ResponseWriter, auth string) {
			writeJSON(w, 401, fmt.Sprintf(`{"error_code":%q,"error_msg":"denied"}`, auth))
		},
		"request id header": func(w http.ResponseWriter, auth string) {
			w.Header().Set(HeaderRequestID, auth)
			writeJSON(w, 403, `{"error_code":"DCS.2003","error_msg":"denied"}`)
		},
		"HTML page": func(w http.ResponseWriter, auth string) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = fmt.Fprintf(w, "<html><body><pre>Authorization: %s</pre></body></html>", auth)
		},
	}
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			var sent string
			s := newStub(t, func(w http.ResponseWriter, r *http.Request) {
				sent = r.Header.Get("Authorization")
				answer(w, sent)
			})
			c := s.client(t, func(cfg *Config) { cfg.Credentials.SecurityToken = testToken })
			_, err := c.ListBackups(context.Background(), testInst, ListOptions{})
			if err == nil {
				t.Fatal("want an error")
			}
			sig := sent[strings.LastIndex(sent, "Signature=")+len("Signature="):]
			if len(sig) != 64 {
				t.Fatalf("unexpected Authorization header %q", sent)
			}
			for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
				out := fmt.Sprintf(verb, err)
				for _, leak := range []string{sig, testSK, testToken} {
					if strings.Contains(out, leak) {
						t.Errorf("%s of the error leaks %q: %s", verb, leak, out)
					}
				}
			}
		})
	}
}
