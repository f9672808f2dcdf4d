// How V8 is tuned for a command, by what it will hold: the young generation ("nursery") sized, and for one-shot
// commands optimization delayed (ONE_SHOT_INTERRUPT_BUDGET). A one-shot command keeps
// nearly everything it allocates until it exits (the model, the desired and actual state), so each object is copied
// from the nursery once or twice whatever its size; what the size changes is how much fresh memory those copies go
// through (every fresh 4 KiB page is a fault: ~12 µs on the VMs measured) against how many scavenges run. Measured
// with in-sync plans (README, Performance): at 1,000–3,000 apps the nursery kept at V8's initial 1 MiB is faster
// (1,000 apps: 21,200 → 13,800 page faults, peak RSS 103 → 75 MiB, wall −7 to −10 %); at 6,000 and 10,000 apps V8's
// growing nursery is (10,000 apps: 2.87 vs 3.06 s), the scavenges of a 1 MiB one outnumbering the faults saved.
// Servers and loops (serve, reconcile, dns, xds, demo) keep V8's default: their garbage is short-lived.
// V8 reads the nursery's size limits only at start-up (bin/amphi.js would have to start a second node for them);
// the growth factor it reads whenever the nursery would grow, so it can be set here, before the work starts.
import { setFlagsFromString } from "node:v8";

/** The commands that run once and exit. */
const ONE_SHOT = new Set(["validate", "render", "plan", "drift", "apply", "tasks", "secret"]);

/** Above this many apps a command's nursery grows as V8 grows it (between the sizes measured: 3,000 and 6,000). */
export const LARGE_REPO_APPS = 4000;

/** V8's interrupt budget (bytecodes run between tiering checks) for a one-shot command: 16 times the default,
 * so only functions that stay hot get optimized. A one-shot command's code runs mostly once per app; TurboFan
 * compiling everything that is merely warm cost more than it saved (its compile threads and their memory):
 * measured with in-sync plans, alternating old and new (load 3–9): 1,000 apps CPU p25 940 → 670 ms, wall p25 690 →
 * 580 ms; 10,000 apps even in wall, CPU p25 4.39 → 3.97 s. */
const ONE_SHOT_INTERRUPT_BUDGET = 16 * 67_584;

/** Keeps the nursery at its initial size, and delays optimization, when `command` runs once and exits (see the
 * header and ONE_SHOT_INTERRUPT_BUDGET). */
export function tuneForCommand(command: string | undefined): void {
  if (command === undefined || !ONE_SHOT.has(command)) return;
  setFlagsFromString("--semi-space-growth-factor=1");
  setFlagsFromString(`--interrupt-budget=${ONE_SHOT_INTERRUPT_BUDGET}`);
}

/** Lets the nursery grow again (V8's own factor, 2) when the repo about to be loaded has more than LARGE_REPO_APPS
 * app folders; a no-op for commands that never kept it small. */
export function heapForRepo(appFolders: number): void {
  if (appFolders > LARGE_REPO_APPS) setFlagsFromString("--semi-space-growth-factor=2");
}
