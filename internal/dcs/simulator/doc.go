// Package simulator is a stand-in for the DCS backup API and the API
// gateway in front of it, faithful to the wire protocol of
// ../shared/dcs-api/SPEC.md (section 9 is its checklist), so that the same
// client code talks to it and to the cloud. Tests use it in-process
// (NewServer, or httptest.NewServer(New(opts))); the demo and manual tests
// run it as hack/dcs-simulator.
//
// # Routes
//
// Under /v2/{project_id} and /v1.0/{project_id}:
//
//	POST   instances/{id}/backups              create backup        -> 200 {"backup_id"}
//	GET    instances/{id}/backups              list backup records  -> 200 or 204 (no match, empty body)
//	DELETE instances/{id}/backups/{bid}        delete backup        -> v2 204, v1.0 200 {"message":""}
//	POST   instances/{id}/backups/{bid}/links  backup file links    -> 200 {"file_path","bucket_name","links"}
//	POST   instances/{id}/restores             restore              -> 200 {"restore_id"}
//	GET    instances/{id}/restores             list restore records -> 200 or 204
//	GET    instances/{id}                      show instance        -> status, cache_mode, ...
//
// Any other path or method answers 404 APIG.0101, like the gateway.
//
// # Gateway behaviour
//
// Every response carries X-Request-Id; gateway (APIG) error bodies also
// carry request_id. Requests must be signed with SDK-HMAC-SHA256 (any set
// of SignedHeaders); a bad or missing signature answers 401 APIG.0301, an
// X-Sdk-Date more than 15 minutes from the simulator clock 401 APIGW.0303
// with both times in the message. A key configured with a security token
// requires that X-Security-Token, signed. X-Project-Id, when sent, must
// equal the path's project (401 DCS.1004), and the path's project must be
// the simulator's (403 DCS.2003). A per-access-key token bucket
// (Options.RateLimit) answers 429 APIG.0308 with the gateway's message and
// Retry-After.
//
// # DCS behaviour
//
// State changes are computed lazily from the clock (Options.Clock), so a
// test moves a fake clock and reads the result; nothing runs in the
// background. A backup is waiting for the first tenth of
// Options.BackupDuration, then backuping with progress rising linearly,
// then succeed (size > 0, is_support_restore "TRUE", progress "100.00") or
// failed (error_code dcs.08.0002, is_support_restore "FALSE"). A restore
// goes waiting -> restoring -> succeed or failed (dcs.08.0007) over
// Options.RestoreDuration, and the instance reports RESTORING meanwhile.
// One operation runs per instance at a time: 400 DCS.4096 while a backup
// runs, DCS.4097 while a restore runs, DCS.4049 when the instance is not
// RUNNING. Single-node instances (cache_mode single) answer 400 DCS.4095;
// unknown instances 404 DCS.3022. A restore needs a succeed backup (else
// 400 DCS.4087). Deleted backups stay listed as deleted with
// is_support_restore "FALSE". Automatic backups (backup_type auto, with a
// period) appear every Options.AutoBackupInterval; one that falls while the
// instance is busy is recorded failed with dcs.08.0008.
//
// Lists page with offset (0-based) and limit (1..1000, default 10) in v2,
// start (1-based) and limit in v1.0; begin_time/end_time (v2) or
// beginTime/endTime (v1.0) filter created_at, in UTC yyyyMMddHHmmss, both
// inclusive at second precision; total_num counts every match; no match is
// 204 with an empty body; a page past the end is 200 with an empty array.
// Records are listed newest first (the real order is undocumented). Times
// are ISO-8601 UTC with milliseconds; unset strings are null, never {};
// v1.0 lists backup_format in upper case ("AOF"), as the v1.0 example does.
// backup_name and restore_name use the UTC creation time (the docs'
// example looks like local time; clients must not parse them anyway).
//
// # Simulator choices (inferred, not documented)
//
// Where the documentation names no code, the simulator picks one:
//
//	400 DCS.4005  malformed JSON body (documented as 111400005, "not in JSON format")
//	400 DCS.4004  empty body where one is required (documented as 111400004)
//	400 DCS.4800  any other invalid parameter: unknown backup_format, negative
//	              offset, start < 1, limit outside 1..1000, non-numeric numbers,
//	              malformed times, missing backup_id, expiration out of range
//	400 DCS.4031  unknown backup id (delete, restore, links) and deleting an
//	              already deleted backup: Terraform treats it as "already gone"
//	400 DCS.4096  deleting a backup that is still running (a busy code, so a
//	              client retries the delete); DCS.4097 while a restore reads it
//	400 DCS.4095  single-node instance
//	403 DCS.2003  project not accessible with the credentials
//	401 APIGW.0303 clock skew (the HTTP status is not confirmed)
//	502/504 APIG.0201 "Backend unavailable." / "Backend timeout." (fault injection)
//	413 APIG.0201 request body over 1 MiB
//
// Failed backups report progress "0.00" and no size; updated_at and
// execution_at are null until the backup completes or starts.
//
// # Faults and control
//
// Faults (error rate, throttle rate, latency, lost responses, backup and
// restore failure rates) can be set at start or at any time (SetFaults);
// FailNextRequests, FailNextBackups and FailNextRestores script the next
// answers; a test makes DCS unreachable by closing its listener. Stats,
// Requests and CodeCount count requests per operation and outcome; Backups
// and Restores list every record with remark, origin, creation and
// completion times. StartRestore, AddAutoBackup, ExpireBackup,
// AddInstance, SetInstanceStatus and SetCacheMode act like the console.
// The same controls are served over HTTP under /_sim/ (see AdminHelp).
package simulator
