-- Resumes a suspended schedule. Of the runs missed while suspended, at
-- most the latest is made, and only within spec.startingDeadlineSeconds.
obj.spec.suspend = false
return obj
