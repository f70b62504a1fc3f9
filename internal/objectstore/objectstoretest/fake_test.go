package objectstoretest

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/dcs-operator/dcs-backup-operator/internal/objectstore"
)

func TestFakeMeetsTheContract(t *testing.T) {
	Contract(t, Subject{
		New: func(*testing.T) objectstore.Store { return &Fake{} },
		StartUpload: func(_ *testing.T, s objectstore.Store, key string) {
			f := s.(*Fake)
			f.AddUpload(key, f.now())
		},
	})
}

func TestFakeFailsAndCountsOnDemand(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
	denied := &objectstore.Error{Op: "put", Class: objectstore.ClassUnauthorized, Code: "AccessDenied"}
	f := &Fake{Now: func() time.Time { return now }, Fail: func(op, key string) error {
		if op == "put" && key == "locked" {
			return denied
		}
		return nil
	}}
	g.Expect(f.Put(ctx, "locked", []byte("x"))).To(MatchError(denied))
	g.Expect(f.Put(ctx, "open", []byte("x"))).To(Succeed())
	g.Expect(f.Calls("put")).To(Equal(2))
	g.Expect(f.Stat(ctx, "open")).To(HaveField("LastModified", now), "the injected clock")
	_, err := f.Stat(ctx, "locked")
	g.Expect(objectstore.IsNotFound(err)).To(BeTrue(), "a failed call stores nothing")
}
