-- Health of a DCSBackupStorage (backup.dcs-operator.dev/v1alpha1) for
-- Argo CD.
--
-- Healthy: the bucket is reachable and accepts the credentials (Ready).
-- Degraded: it is not (Ready is False): exports to it wait until it is.
-- Progressing: the operator has not checked this generation yet.
--
-- Argo CD runs this without the string and math libraries unless
-- useOpenLibs is set, so it uses neither.

local function ready()
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Ready" then
      return c
    end
  end
  return nil
end

if obj.status == nil or obj.status.conditions == nil then
  return {status = "Progressing", message = "Waiting for the operator to check the bucket"}
end
local generation = obj.metadata.generation or 0
if (obj.status.observedGeneration or 0) < generation then
  return {status = "Progressing", message = "Waiting for the operator to observe generation " .. generation}
end
local c = ready()
if c == nil or c.status == "Unknown" then
  return {status = "Progressing", message = "Waiting for the operator to check the bucket"}
end
local message = c.message or ""
if c.status == "True" then
  return {status = "Healthy", message = message}
end
return {status = "Degraded", message = (c.reason or "NotReady") .. ": " .. message}
