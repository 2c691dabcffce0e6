-- Argo CD health of a modelship.dev RetrainJob, from the conditions the operator writes.
-- Argo CD runs a script from argocd-cm with only Lua's base, table and a safe os library:
-- no string library, so no string methods here.
local hs = {}

local function find(conditions, type)
  for _, condition in ipairs(conditions) do
    if condition.type == type then
      return condition
    end
  end
  return nil
end

-- "Reason: message", as kubectl describe shows a condition.
local function said(condition)
  local text = condition.reason or ""
  if condition.message ~= nil and condition.message ~= "" then
    if text ~= "" then
      text = text .. ": "
    end
    text = text .. condition.message
  end
  return text
end

local status = obj.status or {}
local conditions = status.conditions or {}
if #conditions == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for the modelship operator to report status."
  return hs
end

-- Conditions about an older spec say nothing about the one just applied.
local generation = obj.metadata.generation
local observed = status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the modelship operator to act on generation " .. generation .. "."
  return hs
end

local ready = find(conditions, "Ready")
local progressing = find(conditions, "Progressing")
if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the modelship operator to report Ready."
  return hs
end

-- Ready=False is a failed run (until a later run succeeds) or a spec to fix.
if ready.status == "False" then
  hs.status = "Degraded"
  hs.message = said(ready)
  return hs
end
if ready.status ~= "True" then
  hs.status = "Progressing"
  hs.message = said(ready)
  return hs
end

local spec = obj.spec or {}
local training = progressing ~= nil and progressing.status == "True"
-- A run-once RetrainJob is progressing while its run trains. A suspended or scheduled one is
-- Healthy, with what it does in the message, as Argo CD's own CronJob check has it: Suspended
-- or Progressing would hold the whole Application there (argo-cd issues 19126 and 24428).
if training and spec.schedule == nil and spec.suspend ~= true then
  hs.status = "Progressing"
  hs.message = said(progressing)
  return hs
end
hs.status = "Healthy"
hs.message = ready.message or ""
if training and spec.suspend ~= true then
  hs.message = hs.message .. " " .. (progressing.message or "")
end
return hs
