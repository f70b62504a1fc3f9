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
//	GET    instances/{id}                      show instance        -> status, cache_mode, sharding_count, tags, ...
//
// Under /v2/{project_id} only (the project-level calls have no v1.0 form):
//
//	GET    instances                           list instances       -> 200 {"instance_num","instances"}
//	POST   migration-task                      create backup import -> 200 {"id","name","status","error"}
//	GET    migration-task/{task_id}            show import task     -> the documented show body
//	POST   migration-task/{task_id}/stop       stop import task     -> 200 the show body, TERMINATING
//	GET    migration-tasks                     list import tasks    -> 200 {"count","migration_tasks"}
//	DELETE migration-tasks/delete              delete import tasks  -> 200 {"task_id_list"}
//
// Download links point at the simulator itself (scheme and host of the
// links request), under /_obs/{bucket}/{instance_id}/{backup_id}/{file}:
// GET and HEAD, no DCS signature but S3-style v2 query authentication.
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
// Restores follow SPEC.md 13: only from a succeed backup of the same
// instance, never on a single-node one, remark at most 128 characters
// (else 400 DCS.4098; the simulator counts characters, the console
// bytes).
//
// At most Options.MaxBackupsPerInstance (default 24, SPEC.md 17) live
// backups (waiting, backuping or succeed; failed, expired and deleted ones
// do not count) exist per instance, manual and automatic together:
// creating one more evicts the oldest live ones at once, and they list as
// deleted (BackupRecord.Evicted, Stats.Evictions). An automatic run that
// was skipped (dcs.08.0008) stores nothing and evicts nothing.
//
// Backup imports (SPEC.md 14) read a succeed backup record of any
// instance (else DCS.4031 unknown, DCS.4087 not succeed) or files of an
// OBS bucket (.rdb, .aof, .zip, .tar.gz; Options.ImportFileCheck may look
// them up), into a target instance that must be idle and RUNNING. A task
// shows MIGRATING for Options.ImportDuration, then SUCCESS or FAILED
// (error_message in the list; the show body has none); a stop makes it
// TERMINATING for a tenth of that, then TERMINATED. While it runs, the
// target is busy: its backups, restores and imports answer 400 DCS.4017
// (the docs leave this open; DCS.4017 "job task is still running" is a
// busy code), and its status stays RUNNING. A target with a Redis password
// (Instance.Password) needs it: a wrong or missing one answers 400 DCS.4080
// at create, or, with Options.ImportPasswordCheck PasswordCheckInTask,
// makes the task end FAILED. The show body echoes the password, as the
// documented example does; Imports, logs and the admin API never show it.
// Deleted tasks answer 400 DCS.4133 and are no longer listed.
//
// A links call signs one link per file: one file per shard for a cluster
// (Instance.ShardCount, default 3), named
// redis_{ip}_6379_{first slot}-{last slot}_{completion time}.{format}, else
// one file redis_{ip}_6379_{completion time}.{format}; the sizes add up to
// the backup's size (Instance.BackupSize, else random). A GET serves
// deterministic bytes (Content, ObjectContent: the same for every GET,
// different per file, several GB/s), with Range (206, Content-Range,
// suffix ranges), HEAD (403 with Options.LinkHEADForbidden, as the method
// is signed), Content-Length and ETag. An expired link (the simulator
// clock past Expires, or ExpireLinks) answers 403 AccessDenied "Request
// has expired", a bad signature 403 SignatureDoesNotMatch, a file of a
// deleted, evicted or expired backup 404 NoSuchKey, all as S3-style XML.
// Options.LinkExpiry shortens link lifetimes; Options.DownloadRate bounds
// the bytes per second of each download, so that a test can interrupt a
// client mid-copy.
//
// The instance list filters by tags=k=v,... (every pair must match: AND),
// name (substring, or exact with name_equal=true), status, instance_id (or
// the example's id), ip and capacity; pages with offset and limit
// (1..1000, default 10; else 400 DCS.4800) in creation order; counts
// every match in instance_num; and has no cache_mode, only spec_code
// (redis.single.xu1.tiny.128, redis.ha.xu1.tiny.r2.128,
// redis.cluster.xu1.large.r2.s{shards}.{GB}, ...). Strings are sent as
// strings, not as the documented example's {}, 0 or true.
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
//	400 DCS.4017  backup, restore or import of an instance an import runs into;
//	              deleting a backup an import reads
//	400 DCS.4087  links or import of a backup that is not succeed
//	400 DCS.4957  stopping a task that is not MIGRATING, deleting one that is
//	              not finished
//	400 DCS.4800  bad task name (the console's rule), migration_type other than
//	              backupfile_import, migration_method other than
//	              full_amount_migration, bad backup_files, bad tags
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
// Faults (error rate, throttle rate, latency, lost responses, backup,
// restore and import failure rates) can be set at start or at any time
// (SetFaults); FailNextRequests, FailNextBackups, FailNextRestores and
// FailNextImports script the next answers (FailNextRequests with
// OpDownload fails download links); a lost response drops the answer of a
// backup, restore or import create after the record was made; a test makes
// DCS unreachable by closing its listener. Stats, Requests and CodeCount
// count requests per operation and outcome, evictions and downloaded
// bytes; Backups, Restores and Imports list every record; BackupFiles
// names a backup's files for comparing downloads. StartRestore,
// AddAutoBackup, ExpireBackup, AddInstance, RemoveInstance, TagInstance,
// UntagInstance, SetInstanceStatus, SetCacheMode, SetShardCount,
// SetBackupSize, SetInstancePassword and ExpireLinks act like the console.
// The same controls are served over HTTP under /_sim/ (see AdminHelp).
package simulator
