-- Starts one run of the schedule now: a new value of the annotation
-- backup.dcs-operator.dev/run-now, the time (UTC) and the schedule's
-- resourceVersion. The resourceVersion changes with every write, so two
-- clicks within one second still make two distinct tokens, and a token is
-- never reused (the operator names the run's DCSBackup after it).
local os = require("os")

local token = os.date("!%Y-%m-%dT%H:%M:%SZ")
if obj.metadata.resourceVersion ~= nil then
  token = token .. "-" .. obj.metadata.resourceVersion
end
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["backup.dcs-operator.dev/run-now"] = token
return obj
