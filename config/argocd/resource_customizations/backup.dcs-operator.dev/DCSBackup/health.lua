-- Health of a DCSBackup (backup.dcs-operator.dev/v1alpha1) for Argo CD.
--
-- Healthy: the backup succeeded in DCS and, with spec.export, its copy is
--   complete in the bucket; or DCS no longer holds it but its export does.
-- Progressing: the operator has not seen this generation yet, the backup
--   waits or runs, or a DCS call failed and the operator retries it.
-- Degraded: the backup failed, or expired or was deleted in DCS with no
--   export to fall back on (nothing is left to restore from); its export
--   failed; or it cannot start until a person fixes something (credentials,
--   endpoint, instance).
--
-- Argo CD runs this without the string and math libraries unless
-- useOpenLibs is set, so it uses neither.

-- Synced reasons the operator waits out by itself.
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
  return progressing("Waiting for the operator to pick up the backup")
end
local generation = obj.metadata.generation or 0
if (obj.status.observedGeneration or 0) < generation then
  return progressing("Waiting for the operator to observe generation " .. generation)
end

local succeeded = condition("Succeeded")
local exported = condition("Exported")
local synced = condition("Synced")
if succeeded == nil then
  return progressing("Waiting for the operator to pick up the backup")
end
local export = obj.status.export or {}
local copied = exported ~= nil and exported.status == "True"

if succeeded.status == "True" then
  if obj.spec.export == nil or copied then
    return {status = "Healthy", message = succeeded.message or ""}
  end
  if exported ~= nil and exported.status == "False" then
    return {status = "Degraded", message = "The backup succeeded but its export did not: " .. describe(exported)}
  end
  if exported == nil then
    return progressing("The backup succeeded; waiting for its export")
  end
  return progressing("The backup succeeded; export " .. describe(exported))
end

if succeeded.status == "False" then
  local gone = succeeded.reason == "BackupDeleted" or succeeded.reason == "BackupExpired"
  if gone and copied then
    return {status = "Healthy", message = describe(succeeded) .. "; its export is kept in bucket " ..
      (export.bucket or "?") .. " at " .. (export.path or "?") .. " (restore it with a DCSRestore of spec.source.export)"}
  end
  if gone then
    return {status = "Degraded", message = describe(succeeded) ..
      "; no export holds a copy, so nothing is left to restore from: delete this DCSBackup once you no longer need its record"}
  end
  return {status = "Degraded", message = describe(succeeded)}
end

-- Succeeded is Unknown: pending, waiting for the instance, queued or running.
if synced ~= nil and synced.status == "False" then
  local submitted = obj.status.backupID ~= nil and obj.status.backupID ~= ""
  local transient = synced.reason ~= nil and retried[synced.reason] == true
  if submitted or transient then
    -- DCS has the backup (or the failure passes by itself): the operator
    -- keeps polling and catches up once the calls work again.
    return progressing((succeeded.reason or "Pending") .. "; " .. describe(synced))
  end
  return {status = "Degraded", message = "The backup cannot start: " .. describe(synced)}
end
return progressing(describe(succeeded))
