-- Health of a DCSBackupSchedule (backup.dcs-operator.dev/v1alpha1) for
-- Argo CD.
--
-- Degraded: Ready is False for a reason only a person can fix (schedule,
--   time zone, credentials, endpoint, instance, no instance carries the
--   fleet's tags, the API server refuses its backups), or, unless the
--   schedule is suspended, Fresh is False: no successful backup within the
--   last two scheduled intervals (the RPO alarm).
-- Suspended: spec.suspend is true (run-now still works).
-- Progressing: the operator has not seen this generation yet, or Ready is
--   False for a DCS failure the operator retries by itself (throttling, a
--   busy instance, a server error), or not known yet.
-- Healthy: Ready and Fresh. A failed latest run alone is not Degraded while
--   the backups are still fresh: the next run retries; it shows in the message.
--
-- Argo CD runs this without the string and math libraries unless
-- useOpenLibs is set, so it uses neither.

-- Ready reasons the operator waits out by itself.
local retried = {Throttled = true, InstanceBusy = true, APIError = true}

local function condition(conditionType)
  for _, c in ipairs(obj.status.conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

local function describe(c)
  local text = c.reason or c.type
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end

local function progressing(message)
  return {status = "Progressing", message = message}
end

if obj.status == nil or obj.status.conditions == nil then
  return progressing("Waiting for the operator to check the schedule")
end
local generation = obj.metadata.generation or 0
if (obj.status.observedGeneration or 0) < generation then
  return progressing("Waiting for the operator to observe generation " .. generation)
end

local ready = condition("Ready")
local fresh = condition("Fresh")
local lastRun = condition("LastBackupSucceeded")
local suspended = obj.spec.suspend == true

if ready ~= nil and ready.status == "False" and not (ready.reason ~= nil and retried[ready.reason] == true) then
  return {status = "Degraded", message = describe(ready)}
end
if suspended then
  return {status = "Suspended", message = "spec.suspend is true: no scheduled runs until it is resumed (run-now still works)"}
end
if fresh ~= nil and fresh.status == "False" then
  return {status = "Degraded", message = describe(fresh)}
end
if ready == nil or ready.status ~= "True" then
  if ready == nil then
    return progressing("Waiting for the operator to check the schedule")
  end
  return progressing(describe(ready))
end

local message = "Ready"
if obj.status.lastSuccessfulBackup ~= nil then
  message = "Latest successful backup " .. obj.status.lastSuccessfulBackup
  if obj.status.lastSuccessfulTime ~= nil then
    message = message .. " at " .. obj.status.lastSuccessfulTime
  end
end
if obj.status.nextScheduleTime ~= nil then
  message = message .. "; next run at " .. obj.status.nextScheduleTime
end
if lastRun ~= nil and lastRun.status == "False" then
  message = message .. "; the latest run failed (" .. (lastRun.message or "") .. ") but backups are still fresh"
end
return {status = "Healthy", message = message}
