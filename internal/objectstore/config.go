package objectstore

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// Defaults of Config.
const (
	DefaultRegion            = "us-east-1"
	DefaultTimeout           = 30 * time.Second
	DefaultPartTimeout       = 5 * time.Minute
	DefaultPartSize          = 16 << 20
	DefaultUploadConcurrency = 2
)

// S3 limits that apply to every compatible store.
const (
	// MinPartSize is the smallest part but the last of a multipart upload.
	MinPartSize = 5 << 20
	// MaxPartSize is the largest part.
	MaxPartSize = 5 << 30
	// MaxParts is the number of parts an upload may have.
	MaxParts = 10000
	// MaxObjectSize is the largest object.
	MaxObjectSize = 5 << 40
	// maxKeyLength is S3's limit on a key's UTF-8 bytes (prefix included).
	maxKeyLength = 1024
)

// Config says where a bucket is and how to talk to it. Its String and
// GoString methods leave the secret key out, so it can be logged.
type Config struct {
	// Endpoint is the store's URL, e.g. https://obs.eu-de.otc.t-systems.com.
	// Buckets are addressed by path (https://host/bucket/key).
	Endpoint string
	// AllowInsecure permits an http endpoint (the manager's
	// --insecure-endpoints); otherwise only https is accepted.
	AllowInsecure bool
	// Region signs the requests; default DefaultRegion, which S3-compatible
	// stores without regions accept.
	Region string
	// Bucket is the bucket's name.
	Bucket string
	// Prefix, if set, is the folder of every key: "prod/" makes the key
	// "a/b" the object "prod/a/b". A missing trailing "/" is added.
	Prefix string
	// AccessKey and SecretKey are the credentials.
	AccessKey string
	SecretKey string
	// Timeout bounds each request but the parts of an upload; a list gets
	// Timeout per page. Default DefaultTimeout.
	Timeout time.Duration
	// PartTimeout bounds the upload of one part (and of a whole object
	// that fits in one part), and the completion of a multipart upload.
	// Default DefaultPartTimeout.
	PartTimeout time.Duration
	// PartSize is the size of the parts of a multipart upload; objects up
	// to this size are sent in one request. An object too large for
	// MaxParts parts gets larger parts. Default DefaultPartSize.
	PartSize int64
	// UploadConcurrency is how many parts of one upload are in memory and
	// on the wire at once: an upload holds at most UploadConcurrency *
	// PartSize bytes. Default DefaultUploadConcurrency.
	UploadConcurrency int
	// Transport replaces the HTTP transport (custom TLS, tests); nil means
	// a transport like http.DefaultTransport.
	Transport http.RoundTripper
}

// String describes c without its secret key.
func (c Config) String() string {
	secret := ""
	if c.SecretKey != "" {
		secret = "(redacted)"
	}
	return fmt.Sprintf("{Endpoint:%s Region:%s Bucket:%s Prefix:%s AccessKey:%s SecretKey:%s}",
		c.Endpoint, c.Region, c.Bucket, c.Prefix, c.AccessKey, secret)
}

// GoString is String, so that %#v does not print the secret key either.
func (c Config) GoString() string { return "objectstore.Config" + c.String() }

// ObjectKey returns the key of the object in the bucket: the prefix and
// key. It is what other systems (a DCS restore from OBS, a person with a
// bucket browser) see.
func (c Config) ObjectKey(key string) string {
	return normalizePrefix(c.Prefix) + key
}

// ErrInvalid marks a configuration or an argument rejected before any
// request was sent (ClassInvalid).
var ErrInvalid = errors.New("invalid")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// withDefaults validates c and fills in the defaults.
func (c Config) withDefaults() (Config, error) {
	if err := c.validateEndpoint(); err != nil {
		return c, err
	}
	if err := s3utils.CheckValidBucketNameStrict(c.Bucket); err != nil {
		return c, invalidf("bucket %q: %v", c.Bucket, err)
	}
	c.Prefix = normalizePrefix(c.Prefix)
	if err := checkKey("prefix", c.Prefix, true); err != nil {
		return c, err
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		return c, invalidf("the access key and the secret key are required")
	}
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.PartTimeout <= 0 {
		c.PartTimeout = DefaultPartTimeout
	}
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.PartSize < MinPartSize || c.PartSize > MaxPartSize {
		return c, invalidf("part size %d is outside [%d, %d]", c.PartSize, MinPartSize, MaxPartSize)
	}
	if c.UploadConcurrency <= 0 {
		c.UploadConcurrency = DefaultUploadConcurrency
	}
	return c, nil
}

// validateEndpoint follows the DCS endpoint rule: https, plain http only
// when allowed; and nothing in the URL that minio-go would drop or put
// into an error message (user info).
func (c Config) validateEndpoint() error {
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return invalidf("endpoint: %v", err)
	}
	switch {
	case u.Scheme == "http" && !c.AllowInsecure:
		return invalidf("endpoint %s: plain http is only allowed with insecure endpoints", u.Redacted())
	case u.Scheme != "https" && u.Scheme != "http":
		return invalidf("endpoint %s: the scheme must be https", u.Redacted())
	case u.Host == "":
		return invalidf("endpoint %s: no host", u.Redacted())
	case u.User != nil:
		return invalidf("endpoint %s: credentials belong in the access and secret keys, not in the URL", u.Redacted())
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "":
		return invalidf("endpoint %s: only scheme, host and port are allowed", u.Redacted())
	}
	return nil
}

func normalizePrefix(p string) string {
	if p != "" && !strings.HasSuffix(p, "/") {
		return p + "/"
	}
	return p
}

// checkKey rejects keys that stores disagree on: empty segments ("a//b",
// a leading "/"), "." and ".." segments (posix-backed stores map keys to
// paths), invalid UTF-8 and control characters. A prefix may be empty and
// ends in "/".
func checkKey(what, key string, prefix bool) error {
	if key == "" {
		if prefix {
			return nil
		}
		return invalidf("empty %s", what)
	}
	if len(key) > maxKeyLength {
		return invalidf("%s is longer than %d bytes", what, maxKeyLength)
	}
	if !utf8.ValidString(key) {
		return invalidf("%s %q is not valid UTF-8", what, key)
	}
	if strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return invalidf("%s %q contains control characters", what, key)
	}
	segments := strings.Split(key, "/")
	if prefix && strings.HasSuffix(key, "/") {
		segments = segments[:len(segments)-1]
	}
	for _, s := range segments {
		if s == "" || s == "." || s == ".." {
			return invalidf("%s %q has an empty, \".\" or \"..\" segment", what, key)
		}
	}
	return nil
}
