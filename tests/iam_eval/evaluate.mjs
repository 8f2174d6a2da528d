// Decides S3 requests against IAM identity policies with @cloud-copilot/iam-simulate.
//
// stdin: one JSON list of requests per line
//   {principal, account, policies: [policy document, ...], action, resource, context: {...}}
// stdout: for each input line, one line with a JSON list, one entry per request, in order:
//   {decision: "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied", ignoredContextKeys: [...]}
//   or {error: ...} when the simulator rejects the input (bad policy, action or ARN).
// Every decision is the package's runSimulation in Strict mode; nothing is matched here.
// One process answers any number of lines, so a test module starts node once.
import { createInterface } from 'node:readline'
import { runSimulation } from '@cloud-copilot/iam-simulate'

async function decide(request) {
  const simulation = {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.account },
      contextVariables: request.context ?? {}
    },
    identityPolicies: request.policies.map((policy, index) => ({ name: `policy${index}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: []
  }
  const response = await runSimulation(simulation, { simulationMode: 'Strict' })
  if (response.resultType === 'error') {
    return { error: response.errors }
  }
  if (response.resultType !== 'single') {
    return { error: { message: `expected one simulation, got ${response.resultType}` } }
  }
  return {
    decision: response.overallResult,
    ignoredContextKeys: response.result.ignoredContextKeys ?? []
  }
}

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (!line.trim()) continue
  const decisions = []
  for (const request of JSON.parse(line)) decisions.push(await decide(request))
  process.stdout.write(JSON.stringify(decisions) + '\n')
}
