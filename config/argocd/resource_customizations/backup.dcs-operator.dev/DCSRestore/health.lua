-- Health of a DCSRestore (backup.dcs-operator.dev/v1alpha1) for Argo CD.
--
-- Healthy: the data is restored (Succeeded is True).
-- Degraded: the restore failed, a check before it failed (the backup is not
--   restorable or not found, the target is single-node or not found, a wrong
--   password, its pre-restore backup failed), or it cannot start until a
--   person fixes something (credentials, endpoint).
-- Progressing: the operator has not seen it yet, or it waits for the
--   backup, the target instance or its pre-restore backup, or DCS restores;
--   also while a DCS call fails and the operator retries it.
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
  return progressing("Waiting for the operator to pick up the restore")
end
local generation = obj.metadata.generation or 0
if (obj.status.observedGeneration or 0) < generation then
  return progressing("Waiting for the operator to observe generation " .. generation)
end

local succeeded = condition("Succeeded")
local synced = condition("Synced")
if succeeded == nil then
  return progressing("Waiting for the operator to pick up the restore")
end
if succeeded.status == "True" then
  return {status = "Healthy", message = succeeded.message or ""}
end
if succeeded.status == "False" then
  return {status = "Degraded", message = describe(succeeded)}
end

if synced ~= nil and synced.status == "False" then
  local started = (obj.status.restoreID or "") ~= "" or (obj.status.migrationTaskID or "") ~= ""
  local transient = synced.reason ~= nil and retried[synced.reason] == true
  if started or transient then
    -- DCS runs the restore (or the failure passes by itself): the operator
    -- keeps polling and catches up once the calls work again.
    return progressing((succeeded.reason or "Pending") .. "; " .. describe(synced))
  end
  return {status = "Degraded", message = "The restore cannot start: " .. describe(synced)}
end
return progressing(describe(succeeded))
