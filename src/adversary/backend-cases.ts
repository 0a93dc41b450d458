import type { CaseInfo } from "./outcome.js";

export const BACKEND_CASES: readonly CaseInfo[] = [];
