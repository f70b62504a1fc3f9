-- Suspends the schedule: no scheduled runs until it is resumed. Runs that
-- already started go on, and run-now still works.
obj.spec.suspend = true
return obj
