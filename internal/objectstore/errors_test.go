package objectstore

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"

	"github.com/minio/minio-go/v7"
	. "github.com/onsi/gomega"
)

func TestClassifyAnswers(t *testing.T) {
	cases := []struct {
		status int
		code   string
		want   Class
	}{
		{404, "NoSuchBucket", ClassNoSuchBucket},
		{404, "NoSuchKey", ClassNotFound},
		{404, "NoSuchUpload", ClassNotFound},
		{403, "AccessDenied", ClassUnauthorized},
		{403, "SignatureDoesNotMatch", ClassUnauthorized},
		{403, "InvalidAccessKeyId", ClassUnauthorized},
		{404, "XAdminUserNotFound", ClassUnauthorized},
		{403, "RequestTimeTooSkewed", ClassUnauthorized},
		{400, "AuthorizationHeaderMalformed", ClassUnauthorized},
		{401, "Whatever", ClassUnauthorized},
		{503, "SlowDown", ClassTransient},
		{500, "InternalError", ClassTransient},
		{502, "", ClassTransient},
		{429, "", ClassTransient},
		{400, "RequestTimeout", ClassTransient},
		{400, "InvalidArgument", ClassOther},
		{404, "SomethingElse", ClassOther},
		{409, "BucketNotEmpty", ClassOther},
	}
	c := &Client{cfg: validConfig()}
	for _, tc := range cases {
		err := c.wrapError(context.Background(), nil, "op", "k", minio.ErrorResponse{StatusCode: tc.status, Code: tc.code, Message: "m"})
		if got := Classify(err); got != tc.want {
			t.Errorf("%d %s: got %s, want %s", tc.status, tc.code, got, tc.want)
		}
	}
}

func TestClassifyFailures(t *testing.T) {
	g := NewWithT(t)
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	cases := []struct {
		err  error
		want Class
	}{
		{nil, ClassNone},
		{context.Canceled, ClassCanceled},
		{fmt.Errorf("get: %w", context.DeadlineExceeded), ClassCanceled},
		{ErrTimeout, ClassTransient},
		{refused, ClassUnreachable},
		{&net.DNSError{Err: "no such host", Name: "obs", IsNotFound: true}, ClassUnreachable},
		{x509.UnknownAuthorityError{}, ClassUnreachable},
		{x509.HostnameError{Certificate: &x509.Certificate{}, Host: "obs"}, ClassUnreachable},
		{io.ErrUnexpectedEOF, ClassTransient},
		{&sourceError{err: refused}, ClassSource},
		{fmt.Errorf("%w: short", ErrSizeMismatch), ClassSizeMismatch},
		{invalidf("bad"), ClassInvalid},
		{errors.New("something"), ClassOther},
		{&Error{Class: ClassNoSuchBucket}, ClassNoSuchBucket},
		{fmt.Errorf("wrapped: %w", &Error{Class: ClassUnauthorized}), ClassUnauthorized},
	}
	for _, tc := range cases {
		g.Expect(Classify(tc.err)).To(Equal(tc.want), "%v", tc.err)
	}
	g.Expect(ClassUnreachable.Retryable()).To(BeTrue())
	g.Expect(ClassTransient.Retryable()).To(BeTrue())
	g.Expect(ClassSource.Retryable()).To(BeTrue())
	for _, c := range []Class{ClassNoSuchBucket, ClassNotFound, ClassUnauthorized, ClassSizeMismatch, ClassInvalid,
		ClassCanceled, ClassOther} {
		g.Expect(c.Retryable()).To(BeFalse(), c.String())
	}
	g.Expect(ClassNoSuchBucket.String()).To(Equal("NoSuchBucket"))
	g.Expect(Class(99).String()).To(Equal("Class(99)"))
}

func TestErrorText(t *testing.T) {
	g := NewWithT(t)
	c := &Client{cfg: validConfig()}
	err := c.wrapError(context.Background(), nil, "put", "prod/ns/b1/manifest.json", minio.ErrorResponse{
		StatusCode: http.StatusForbidden, Code: "AccessDenied", Message: "Access   Denied.\n", RequestID: "REQ1"})
	g.Expect(err).To(MatchError("objectstore: put shop-dcs-backups/prod/ns/b1/manifest.json: HTTP 403 AccessDenied: " +
		"Access Denied. (request id REQ1)"))
	var e *Error
	g.Expect(errors.As(err, &e)).To(BeTrue())
	g.Expect(e.Class).To(Equal(ClassUnauthorized))

	long := c.wrapError(context.Background(), nil, "get", "k", minio.ErrorResponse{StatusCode: 502,
		Message: "<html>" + string(make([]byte, 2000)) + "</html>"})
	g.Expect(len(long.Error())).To(BeNumerically("<", 700), "a proxy's error page is shortened")

	callCtx, cancel := context.WithCancelCause(context.Background())
	cancel(ErrTimeout)
	timedOut := c.wrapError(context.Background(), callCtx, "list", "", context.Canceled)
	g.Expect(Classify(timedOut)).To(Equal(ClassTransient), "the per-call timeout is the store's slowness")
	g.Expect(errors.Is(timedOut, ErrTimeout)).To(BeTrue())
}
