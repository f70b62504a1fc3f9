// Package export copies DCS backups into an S3-compatible bucket and keeps
// the copies there: the manifest that makes a folder a complete export, the
// copy itself (download links in, a streaming upload out), the Runner that
// runs the copies in the background of the manager, and the retention plan
// that says which exports a schedule keeps.
//
// A copy never runs inside a Reconcile: it takes minutes. The DCSBackup
// export controller records its intent on the resource, hands a Job to the
// Runner, and records the Result the Runner reports.
//
// The layout of an export, <prefix><namespace>/<backup name>/:
//
//	redis_..._{completion}.rdb   one file per shard, as DCS names them
//	manifest.json                written last: a folder without it is incomplete
package export
