package objectstore_test

import (
	"testing"

	"github.com/dcs-operator/dcs-backup-operator/internal/objectstore"
	"github.com/dcs-operator/dcs-backup-operator/internal/objectstore/objectstoretest"
)

// TestClientMeetsTheContract runs the contract that the fake of the
// controller tests meets too, against versitygw.
func TestClientMeetsTheContract(t *testing.T) {
	objectstoretest.Contract(t, objectstoretest.Subject{
		New: func(t *testing.T) objectstore.Store { return objectstore.NewGatewayClient(t) },
		StartUpload: func(t *testing.T, s objectstore.Store, key string) {
			objectstore.StartUpload(t, s.(*objectstore.Client), key)
		},
	})
}
