package dcs

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"k8s.io/utils/clock"
)

// Defaults of Config.
const (
	// DefaultTimeout bounds every HTTP exchange (the SDK example in
	// SPEC.md 5 uses 30 s; the SDK's own default of 120 s is too long for a
	// reconcile).
	DefaultTimeout = 30 * time.Second
	// DefaultUserAgent identifies the operator to the gateway.
	DefaultUserAgent = "dcs-backup-operator"
	// DefaultPageSize is the list page size: the documented maximum of
	// limit (SPEC.md 2.2), so most lists take one request.
	DefaultPageSize = 1000
	// MaxPageSize is the largest limit the API accepts.
	MaxPageSize = 1000
)

// Credentials are an AK/SK pair, with the STS token of temporary
// credentials. String, GoString, Format and MarshalJSON never show the
// secret key or the token, so a Config can be logged safely.
type Credentials struct {
	AccessKey     string
	SecretKey     string
	SecurityToken string
}

// String shows the first characters of the access key only.
func (c Credentials) String() string {
	return fmt.Sprintf("{AccessKey:%s SecretKey:%s SecurityToken:%s}",
		maskAccessKey(c.AccessKey), redacted(c.SecretKey), redacted(c.SecurityToken))
}

// GoString is String with the type name, for %#v.
func (c Credentials) GoString() string { return "dcs.Credentials" + c.String() }

// Format makes every fmt verb (%v, %+v, %#v, %s, %q, %x, ...) redact.
func (c Credentials) Format(f fmt.State, verb rune) {
	formatRedacted(f, verb, c.String(), c.GoString())
}

// MarshalJSON redacts too, so JSON loggers cannot leak the secret.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{"accessKey":%q,"secretKey":%q,"securityToken":%q}`,
		maskAccessKey(c.AccessKey), redacted(c.SecretKey), redacted(c.SecurityToken)), nil
}

func redacted(secret string) string {
	if secret == "" {
		return ""
	}
	return "REDACTED"
}

// maskAccessKey keeps four characters of a long access key: enough to tell
// keys apart in a log, not enough to use one.
func maskAccessKey(ak string) string {
	if len(ak) < 12 {
		return redacted(ak)
	}
	return ak[:4] + "****"
}

func formatRedacted(f fmt.State, verb rune, plain, goSyntax string) {
	if verb == 'v' && f.Flag('#') {
		_, _ = fmt.Fprint(f, goSyntax)
		return
	}
	_, _ = fmt.Fprint(f, plain)
}

// Config configures a Client.
type Config struct {
	// Endpoint is scheme://host[:port] with no path, e.g.
	// https://dcs.eu-de.otc.t-systems.com. http is refused unless
	// AllowInsecure is set (the simulator and tests).
	Endpoint string
	// AllowInsecure permits an http:// endpoint.
	AllowInsecure bool
	// ProjectID is the IAM project id; it goes into every path and the
	// X-Project-Id header. Always required (SPEC.md 5, point 3).
	ProjectID string
	// APIVersion is V2 (default) or V1 (legacy /v1.0 paths).
	APIVersion APIVersion
	// Credentials sign every request.
	Credentials Credentials
	// HTTPClient is used as is when set; by default a client that does not
	// follow redirects (like the SDK, SPEC.md 5).
	HTTPClient *http.Client
	// Timeout bounds every HTTP exchange; 0 means DefaultTimeout.
	Timeout time.Duration
	// Clock gives X-Sdk-Date and evaluates Retry-After dates; default real.
	Clock clock.PassiveClock
	// Limiter is the client-side rate limiter; nil means the process-wide
	// DefaultLimiter, shared by every Client so that per-resource clients
	// still share one budget per endpoint and project.
	Limiter *Limiter
	// UserAgent is sent and signed; default DefaultUserAgent.
	UserAgent string
}

// String shows the configuration with the credentials redacted.
func (c Config) String() string {
	return fmt.Sprintf("{Endpoint:%s ProjectID:%s APIVersion:%s Credentials:%s Timeout:%s AllowInsecure:%t}",
		c.Endpoint, c.ProjectID, c.APIVersion, c.Credentials.String(), c.Timeout, c.AllowInsecure)
}

// GoString is String with the type name, for %#v.
func (c Config) GoString() string { return "dcs.Config" + c.String() }

// Format makes every fmt verb redact.
func (c Config) Format(f fmt.State, verb rune) { formatRedacted(f, verb, c.String(), c.GoString()) }

// withDefaults validates c and fills in defaults.
func (c Config) withDefaults() (Config, *url.URL, error) {
	u, err := validateEndpoint(c.Endpoint, c.AllowInsecure)
	if err != nil {
		return c, nil, err
	}
	if err := validatePathSegment("project id", c.ProjectID); err != nil {
		return c, nil, err
	}
	if c.Credentials.AccessKey == "" || c.Credentials.SecretKey == "" {
		return c, nil, fmt.Errorf("%w: access key and secret key are required", ErrInvalidArgument)
	}
	switch c.APIVersion {
	case "":
		c.APIVersion = V2
	case V1, V2:
	default:
		return c, nil, fmt.Errorf("%w: unknown API version %q (want %q or %q)", ErrInvalidArgument, c.APIVersion, V2, V1)
	}
	if c.Timeout < 0 {
		return c, nil, fmt.Errorf("%w: negative timeout", ErrInvalidArgument)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.Limiter == nil {
		c.Limiter = DefaultLimiter()
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	return c, u, nil
}

func validateEndpoint(endpoint string, allowInsecure bool) (*url.URL, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.User != nil {
		// Neither the parse error nor the message may echo the endpoint:
		// a user might have pasted credentials into it.
		return nil, fmt.Errorf("%w: endpoint is not a scheme://host[:port] URL", ErrInvalidArgument)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowInsecure:
	case u.Scheme == "http":
		return nil, fmt.Errorf("%w: endpoint %q: http is only allowed with AllowInsecure", ErrInvalidArgument, endpoint)
	default:
		return nil, fmt.Errorf("%w: endpoint %q: scheme must be https", ErrInvalidArgument, endpoint)
	}
	if u.Host == "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: endpoint %q must be scheme://host[:port]", ErrInvalidArgument, endpoint)
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("%w: endpoint %q must not have a path (the client adds /v2/{project_id})", ErrInvalidArgument, endpoint)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// validatePathSegment rejects ids that would change the path's shape.
func validatePathSegment(what, v string) error {
	if v == "" {
		return fmt.Errorf("%w: %s is required", ErrInvalidArgument, what)
	}
	if strings.ContainsAny(v, "/?#%") || strings.TrimSpace(v) != v || v == "." || v == ".." {
		return fmt.Errorf("%w: %s %q is not a valid id", ErrInvalidArgument, what, v)
	}
	return nil
}

// argError wraps an argument error as an *Error of op, so that every error a
// Client method returns is an *Error.
func argError(op string, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Operation: op, Err: err}
}
