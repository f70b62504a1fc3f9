-- Actions Argo CD offers on a DCSBackupSchedule: run-now (one backup now),
-- suspend and resume (spec.suspend). Only the ones that make sense are
-- enabled: suspend on a running schedule, resume on a suspended one, and
-- run-now unless the schedule is being deleted or a run-now request is
-- still waiting for the operator (its token is not yet in
-- status.lastRunNowToken).

local annotations = obj.metadata.annotations or {}
local requested = annotations["backup.dcs-operator.dev/run-now"]
local done = obj.status ~= nil and obj.status.lastRunNowToken or nil
local pending = requested ~= nil and requested ~= "" and requested ~= done
local deleting = obj.metadata.deletionTimestamp ~= nil
local suspended = obj.spec.suspend == true

local actions = {}
actions["run-now"] = {displayName = "Run now", iconClass = "fa fa-fw fa-play", disabled = pending or deleting}
actions["suspend"] = {displayName = "Suspend", iconClass = "fa fa-fw fa-pause", disabled = suspended or deleting}
actions["resume"] = {displayName = "Resume", iconClass = "fa fa-fw fa-redo", disabled = not suspended or deleting}
return actions
