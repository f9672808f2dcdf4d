// Registering services in the Consul double (test/support/consul) for mesh-dns tests, through the agent API
// as amphi's own registrations arrive there.

/** Registers service `name` (ID = name) with the agent at `base`. */
export async function register(base: string, name: string, token?: string): Promise<void> {
  await put(base, "/v1/agent/service/register", token, JSON.stringify({ ID: name, Name: name, Port: 8080, Tags: ["amphi"] }));
}

/** Deregisters service ID `name`. */
export async function deregister(base: string, name: string, token?: string): Promise<void> {
  await put(base, `/v1/agent/service/deregister/${name}`, token);
}

async function put(base: string, path: string, token: string | undefined, body?: string): Promise<void> {
  const res = await fetch(`${base}${path}`, { method: "PUT", headers: token ? { "X-Consul-Token": token } : {}, body });
  if (!res.ok) throw new Error(`PUT ${path}: ${res.status} ${await res.text()}`);
}
