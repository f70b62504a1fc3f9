package dcs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func assertNoSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range []string{testSK, testToken, testAK} {
		if strings.Contains(s, secret) {
			t.Errorf("%s leaks a credential: %s", what, s)
		}
	}
}

func TestFormattingRedactsCredentials(t *testing.T) {
	creds := Credentials{AccessKey: testAK, SecretKey: testSK, SecurityToken: testToken}
	cfg := Config{Endpoint: "https://dcs.example.com", ProjectID: testProject, Credentials: creds}
	client, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	type wrapper struct {
		Config Config
		Slice  []Credentials
	}
	values := map[string]any{
		"credentials": creds, "*credentials": &creds,
		"config": cfg, "*config": &cfg,
		"client": client, "*client": *client,
		"wrapper": wrapper{Config: cfg, Slice: []Credentials{creds}},
		"map":     map[string]Credentials{"k": creds},
	}
	for name, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
			assertNoSecret(t, name+" "+verb, fmt.Sprintf(verb, v))
		}
		b, _ := json.Marshal(v)
		assertNoSecret(t, name+" json", string(b))
		var sb strings.Builder
		slog.New(slog.NewTextHandler(&sb, nil)).Info("x", "v", v)
		slog.New(slog.NewJSONHandler(&sb, nil)).Info("x", "v", v)
		assertNoSecret(t, name+" slog", sb.String())
	}
	if s := creds.String(); !strings.Contains(s, "TEST****") || !strings.Contains(s, "REDACTED") {
		t.Errorf("credentials string %q", s)
	}
}

func TestErrorsNeverCarrySecrets(t *testing.T) {
	// A (hypothetical) server that echoes the signature material and the
	// token back: the client must not pass it on.
	s := newStub(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(HeaderRequestID, r.Header.Get(HeaderSecurityToken))
		writeJSON(w, 401, fmt.Sprintf(`{"error_code":"APIG.0301","error_msg":"bad signature for sk %s token %s auth %s"}`,
			testSK, r.Header.Get(HeaderSecurityToken), r.Header.Get("Authorization")))
	})
	c := s.client(t, func(cfg *Config) { cfg.Credentials.SecurityToken = testToken })
	_, err := c.CreateBackup(context.Background(), testInst, CreateBackupRequest{Remark: "x"})
	if Classify(err) != ClassUnauthorized {
		t.Fatalf("%v", err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(verb, err)
		for _, secret := range []string{testSK, testToken} {
			if strings.Contains(out, secret) {
				t.Errorf("%s leaks: %s", verb, out)
			}
		}
	}
}
