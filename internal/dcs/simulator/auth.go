package simulator

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"time"

	"github.com/dcs-operator/dcs-backup-operator/internal/dcs"
)

func (s *Simulator) lookup(ak string) (string, bool) {
	c, ok := s.creds[ak]
	return c.SecretKey, ok
}

// authenticate is the gateway's check (SPEC.md 9, auth): an
// SDK-HMAC-SHA256 signature over whatever SignedHeaders names, X-Sdk-Date
// within 15 minutes of the simulator clock, the security token of
// temporary keys, then the project: the path's project must equal
// X-Project-Id when present (401 DCS.1004) and be the simulator's project
// (403 DCS.2003). It returns the access key.
func (s *Simulator) authenticate(r *http.Request, body []byte, rt route, now time.Time) (string, response) {
	auth, err := dcs.Verify(r, body, s.lookup, now)
	if err != nil {
		var skew *dcs.ClockSkewError
		if errors.As(err, &skew) {
			return "", apigError(http.StatusUnauthorized, codeClockSkew, fmt.Sprintf(
				"Incorrect app authentication information: the request time %s (X-Sdk-Date) differs from the server time %s by more than 15 minutes",
				skew.RequestTime.UTC().Format(dcs.SdkDateLayout), skew.ServerTime.UTC().Format(dcs.SdkDateLayout)))
		}
		return "", apigError(http.StatusUnauthorized, codeSignature, msgSignature)
	}
	if !s.tokenOK(r, auth) {
		return "", apigError(http.StatusUnauthorized, codeSignature, msgSignature)
	}
	if p := r.Header.Get(dcs.HeaderProjectID); p != "" && p != rt.project {
		return "", dcsError(http.StatusUnauthorized, codeProjectToken, "Project ID does not match the token.")
	}
	if rt.project != s.projectID {
		return "", dcsError(http.StatusForbidden, codeNoPermission, "The project is not accessible with these credentials.")
	}
	return auth.AccessKey, response{}
}

// tokenOK: a temporary key needs its token, sent and signed; a permanent
// key must not come with one.
func (s *Simulator) tokenOK(r *http.Request, auth dcs.Authorization) bool {
	want := s.creds[auth.AccessKey].SecurityToken
	got := r.Header.Get(dcs.HeaderSecurityToken)
	if want == "" {
		return got == ""
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1 &&
		slices.Contains(auth.SignedHeaders, "x-security-token")
}

// tokenBucket is a per-access-key bucket on the simulator clock.
type tokenBucket struct {
	tokens float64
	last   time.Time
}

// throttle applies the per-AK rate limit, then the random throttle fault.
// Both answer 429 APIG.0308 with the gateway's message and Retry-After
// (SPEC.md 4.2).
func (s *Simulator) throttle(ak string, now time.Time) (response, bool) {
	if s.rateLimit > 0 {
		if wait, ok := s.takeToken(ak, now); !ok {
			return errThrottled(int(math.Round(s.rateLimit*60)), wait), true
		}
	}
	if s.faults.ThrottleRate > 0 && s.rng.Float64() < s.faults.ThrottleRate {
		return errThrottled(int(math.Round(max(s.rateLimit, 1)*60)), s.faults.retryAfter()), true
	}
	return response{}, false
}

func (s *Simulator) takeToken(ak string, now time.Time) (time.Duration, bool) {
	b, ok := s.buckets[ak]
	if !ok {
		b = &tokenBucket{tokens: float64(s.rateBurst), last: now}
		s.buckets[ak] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(float64(s.rateBurst), b.tokens+elapsed.Seconds()*s.rateLimit)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	wait := time.Duration((1 - b.tokens) / s.rateLimit * float64(time.Second))
	return max(time.Second, wait), false
}
