// Package objectstore is the operator's only contact with S3-compatible
// object storage (OBS, S3, Ceph, MinIO, versitygw), as internal/dcs is for
// DCS: backup exports are streamed into a bucket the user owns and read
// back from there.
//
// Store is the small interface the controllers use; Client implements it
// with minio-go (S3 signature V4, path-style addressing, which OBS, S3,
// Ceph and versitygw all accept), and objectstoretest.Fake in memory for
// controller unit tests; both pass objectstoretest.Contract. Every error it returns is an *Error with
// a Class (Classify) that a controller maps to a condition reason; errors
// never contain the secret key or request signatures.
//
// Upload streams an object of known size: it holds at most
// Config.UploadConcurrency parts of Config.PartSize in memory, never the
// whole object, computes the SHA-256 on the way, and aborts the multipart
// upload when anything fails, including a stream shorter or longer than
// announced.
package objectstore
