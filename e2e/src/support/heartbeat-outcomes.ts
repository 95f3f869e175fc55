/** What the registry did with the heartbeats it received, by outcome, read from its /metrics (`registry_heartbeats_total`). */
export async function heartbeatOutcomes(registryUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${registryUrl}/metrics`)).text();
  const outcomes: Record<string, number> = {};
  for (const [, outcome, value] of text.matchAll(/^registry_heartbeats_total\{[^}]*outcome="([^"]+)"[^}]*\} (\d+)/gm))
    outcomes[outcome!] = Number(value);
  return outcomes;
}
