-- Argo CD health of a modelship.dev ModelDeployment, from the conditions the operator writes.
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
local degraded = find(conditions, "Degraded")
local available = find(conditions, "Available")

-- Every failure the operator knows of sets Degraded=True with its reason, even while an older
-- revision keeps serving (then Ready=True when the new one's pods cannot start): the revision
-- the spec asks for will not come up without a fix, as Argo CD judges a Deployment past its
-- progress deadline while its old pods serve.
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = said(degraded)
  if available ~= nil and available.status == "True" and status.stable ~= nil then
    hs.message = hs.message .. " Revision " .. status.stable.name .. " (version "
      .. status.stable.version .. ") keeps serving."
  end
  return hs
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the modelship operator to report Ready."
  return hs
end

if ready.status == "True" then
  -- A canary a person paused (kubectl modelship pause) waits for them, as a paused Argo
  -- Rollout does: Suspended, not Progressing.
  if status.canary ~= nil and status.canary.paused == true then
    hs.status = "Suspended"
    hs.message = progressing ~= nil and said(progressing) or "The canary is paused."
  elseif progressing ~= nil and progressing.status == "True" then
    hs.status = "Progressing"
    hs.message = said(progressing)
  elseif status.canary ~= nil then
    hs.status = "Progressing"
    hs.message = "Revision " .. status.canary.name .. " (version " .. status.canary.version
      .. ") is rolling out."
  else
    hs.status = "Healthy"
    hs.message = ready.message or ""
  end
  return hs
end

-- Not ready: starting (pods, a new revision) is progress; anything else waits for a fix.
if ready.status ~= "False" or (progressing ~= nil and progressing.status == "True") then
  hs.status = "Progressing"
else
  hs.status = "Degraded"
end
hs.message = said(ready)
return hs
