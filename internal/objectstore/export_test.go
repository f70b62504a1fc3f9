package objectstore

import (
	"context"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
)

// Helpers for the external tests (contract_test.go).

// NewGatewayClient returns a client of a new bucket of the test gateway.
func NewGatewayClient(t *testing.T) *Client { return newClient(t, nil) }

// StartUpload starts a multipart upload of key with one part and leaves
// it incomplete.
func StartUpload(t *testing.T, c *Client, key string) {
	t.Helper()
	ctx := context.Background()
	full := c.cfg.ObjectKey(key)
	id, err := c.core.NewMultipartUpload(ctx, c.cfg.Bucket, full, minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.core.PutObjectPart(ctx, c.cfg.Bucket, full, id, 1, strings.NewReader("part"), 4,
		minio.PutObjectPartOptions{}); err != nil {
		t.Fatal(err)
	}
}
