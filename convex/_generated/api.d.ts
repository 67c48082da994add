/* eslint-disable */
/**
 * Generated `api` utility.
 *
 * THIS CODE IS AUTOMATICALLY GENERATED.
 *
 * To regenerate, run `npx convex dev`.
 * @module
 */

import type * as access from "../access.js";
import type * as api_convexArgs from "../api/convexArgs.js";
import type * as api_endpoint from "../api/endpoint.js";
import type * as api_fallback from "../api/fallback.js";
import type * as api_httpUtil from "../api/httpUtil.js";
import type * as api_jobSchemas from "../api/jobSchemas.js";
import type * as api_openapi from "../api/openapi.js";
import type * as api_requests_contextPacks from "../api/requests/contextPacks.js";
import type * as api_requests_jobToken from "../api/requests/jobToken.js";
import type * as api_requests_jobs from "../api/requests/jobs.js";
import type * as api_requests_misc from "../api/requests/misc.js";
import type * as api_requests_queues from "../api/requests/queues.js";
import type * as api_requests_runs from "../api/requests/runs.js";
import type * as api_requests_uncertainties from "../api/requests/uncertainties.js";
import type * as api_requests_workers from "../api/requests/workers.js";
import type * as api_route from "../api/route.js";
import type * as api_routes from "../api/routes.js";
import type * as api_routes_auth from "../api/routes/auth.js";
import type * as api_routes_contextPacks from "../api/routes/contextPacks.js";
import type * as api_routes_integrations from "../api/routes/integrations.js";
import type * as api_routes_jobToken from "../api/routes/jobToken.js";
import type * as api_routes_jobs from "../api/routes/jobs.js";
import type * as api_routes_meta from "../api/routes/meta.js";
import type * as api_routes_metrics from "../api/routes/metrics.js";
import type * as api_routes_queues from "../api/routes/queues.js";
import type * as api_routes_runs from "../api/routes/runs.js";
import type * as api_routes_uncertainties from "../api/routes/uncertainties.js";
import type * as api_routes_uploads from "../api/routes/uploads.js";
import type * as api_routes_workers from "../api/routes/workers.js";
import type * as api_routes_workspaces from "../api/routes/workspaces.js";
import type * as api_schemas from "../api/schemas.js";
import type * as audit from "../audit.js";
import type * as auth from "../auth.js";
import type * as cascade from "../cascade.js";
import type * as cascadeStart from "../cascadeStart.js";
import type * as concurrency from "../concurrency.js";
import type * as concurrencyKeys from "../concurrencyKeys.js";
import type * as contextLake from "../contextLake.js";
import type * as contextPacks from "../contextPacks.js";
import type * as crons from "../crons.js";
import type * as decisions from "../decisions.js";
import type * as deviceSessions from "../deviceSessions.js";
import type * as functions from "../functions.js";
import type * as http from "../http.js";
import type * as inbox from "../inbox.js";
import type * as integrations from "../integrations.js";
import type * as jobCounters from "../jobCounters.js";
import type * as jobEvents from "../jobEvents.js";
import type * as jobReactions from "../jobReactions.js";
import type * as jobReports from "../jobReports.js";
import type * as jobState from "../jobState.js";
import type * as jobToken from "../jobToken.js";
import type * as jobs from "../jobs.js";
import type * as jobsConsole from "../jobsConsole.js";
import type * as leases from "../leases.js";
import type * as liveFetch from "../liveFetch.js";
import type * as members from "../members.js";
import type * as memberships from "../memberships.js";
import type * as metrics from "../metrics.js";
import type * as metricsBackfill from "../metricsBackfill.js";
import type * as model_audit from "../model/audit.js";
import type * as model_capabilities from "../model/capabilities.js";
import type * as model_contextLake from "../model/contextLake.js";
import type * as model_contextPacks from "../model/contextPacks.js";
import type * as model_convexValues from "../model/convexValues.js";
import type * as model_cronSchedule from "../model/cronSchedule.js";
import type * as model_dataPolicy from "../model/dataPolicy.js";
import type * as model_decisions from "../model/decisions.js";
import type * as model_deviceCodes from "../model/deviceCodes.js";
import type * as model_errors from "../model/errors.js";
import type * as model_jobActivity from "../model/jobActivity.js";
import type * as model_jobCounters from "../model/jobCounters.js";
import type * as model_jobStates from "../model/jobStates.js";
import type * as model_jobTokens from "../model/jobTokens.js";
import type * as model_jobs from "../model/jobs.js";
import type * as model_leases from "../model/leases.js";
import type * as model_liveFetch from "../model/liveFetch.js";
import type * as model_localFiles from "../model/localFiles.js";
import type * as model_matching from "../model/matching.js";
import type * as model_members from "../model/members.js";
import type * as model_metricsText from "../model/metricsText.js";
import type * as model_outcomeReasons from "../model/outcomeReasons.js";
import type * as model_pages from "../model/pages.js";
import type * as model_promotion from "../model/promotion.js";
import type * as model_queueHeads from "../model/queueHeads.js";
import type * as model_rateLimits from "../model/rateLimits.js";
import type * as model_retention from "../model/retention.js";
import type * as model_roles from "../model/roles.js";
import type * as model_runTriggers from "../model/runTriggers.js";
import type * as model_runs from "../model/runs.js";
import type * as model_scheduling from "../model/scheduling.js";
import type * as model_slackSignature from "../model/slackSignature.js";
import type * as model_slug from "../model/slug.js";
import type * as model_templates from "../model/templates.js";
import type * as model_tokens from "../model/tokens.js";
import type * as model_webhookTargets from "../model/webhookTargets.js";
import type * as model_webhooks from "../model/webhooks.js";
import type * as model_workers from "../model/workers.js";
import type * as queue from "../queue.js";
import type * as queuePauses from "../queuePauses.js";
import type * as rateLimits from "../rateLimits.js";
import type * as readiness from "../readiness.js";
import type * as recovery from "../recovery.js";
import type * as repos from "../repos.js";
import type * as retention from "../retention.js";
import type * as runTriggerSchedule from "../runTriggerSchedule.js";
import type * as runTriggers from "../runTriggers.js";
import type * as runs from "../runs.js";
import type * as scheduling from "../scheduling.js";
import type * as slack from "../slack.js";
import type * as sweeps from "../sweeps.js";
import type * as timeouts from "../timeouts.js";
import type * as tokens from "../tokens.js";
import type * as uncertainties from "../uncertainties.js";
import type * as uploads from "../uploads.js";
import type * as webhookDelivery from "../webhookDelivery.js";
import type * as webhookEvents from "../webhookEvents.js";
import type * as webhookSend from "../webhookSend.js";
import type * as webhooks from "../webhooks.js";
import type * as workerAdmin from "../workerAdmin.js";
import type * as workers from "../workers.js";
import type * as workspaces from "../workspaces.js";

import type {
  ApiFromModules,
  FilterApi,
  FunctionReference,
} from "convex/server";

declare const fullApi: ApiFromModules<{
  access: typeof access;
  "api/convexArgs": typeof api_convexArgs;
  "api/endpoint": typeof api_endpoint;
  "api/fallback": typeof api_fallback;
  "api/httpUtil": typeof api_httpUtil;
  "api/jobSchemas": typeof api_jobSchemas;
  "api/openapi": typeof api_openapi;
  "api/requests/contextPacks": typeof api_requests_contextPacks;
  "api/requests/jobToken": typeof api_requests_jobToken;
  "api/requests/jobs": typeof api_requests_jobs;
  "api/requests/misc": typeof api_requests_misc;
  "api/requests/queues": typeof api_requests_queues;
  "api/requests/runs": typeof api_requests_runs;
  "api/requests/uncertainties": typeof api_requests_uncertainties;
  "api/requests/workers": typeof api_requests_workers;
  "api/route": typeof api_route;
  "api/routes": typeof api_routes;
  "api/routes/auth": typeof api_routes_auth;
  "api/routes/contextPacks": typeof api_routes_contextPacks;
  "api/routes/integrations": typeof api_routes_integrations;
  "api/routes/jobToken": typeof api_routes_jobToken;
  "api/routes/jobs": typeof api_routes_jobs;
  "api/routes/meta": typeof api_routes_meta;
  "api/routes/metrics": typeof api_routes_metrics;
  "api/routes/queues": typeof api_routes_queues;
  "api/routes/runs": typeof api_routes_runs;
  "api/routes/uncertainties": typeof api_routes_uncertainties;
  "api/routes/uploads": typeof api_routes_uploads;
  "api/routes/workers": typeof api_routes_workers;
  "api/routes/workspaces": typeof api_routes_workspaces;
  "api/schemas": typeof api_schemas;
  audit: typeof audit;
  auth: typeof auth;
  cascade: typeof cascade;
  cascadeStart: typeof cascadeStart;
  concurrency: typeof concurrency;
  concurrencyKeys: typeof concurrencyKeys;
  contextLake: typeof contextLake;
  contextPacks: typeof contextPacks;
  crons: typeof crons;
  decisions: typeof decisions;
  deviceSessions: typeof deviceSessions;
  functions: typeof functions;
  http: typeof http;
  inbox: typeof inbox;
  integrations: typeof integrations;
  jobCounters: typeof jobCounters;
  jobEvents: typeof jobEvents;
  jobReactions: typeof jobReactions;
  jobReports: typeof jobReports;
  jobState: typeof jobState;
  jobToken: typeof jobToken;
  jobs: typeof jobs;
  jobsConsole: typeof jobsConsole;
  leases: typeof leases;
  liveFetch: typeof liveFetch;
  members: typeof members;
  memberships: typeof memberships;
  metrics: typeof metrics;
  metricsBackfill: typeof metricsBackfill;
  "model/audit": typeof model_audit;
  "model/capabilities": typeof model_capabilities;
  "model/contextLake": typeof model_contextLake;
  "model/contextPacks": typeof model_contextPacks;
  "model/convexValues": typeof model_convexValues;
  "model/cronSchedule": typeof model_cronSchedule;
  "model/dataPolicy": typeof model_dataPolicy;
  "model/decisions": typeof model_decisions;
  "model/deviceCodes": typeof model_deviceCodes;
  "model/errors": typeof model_errors;
  "model/jobActivity": typeof model_jobActivity;
  "model/jobCounters": typeof model_jobCounters;
  "model/jobStates": typeof model_jobStates;
  "model/jobTokens": typeof model_jobTokens;
  "model/jobs": typeof model_jobs;
  "model/leases": typeof model_leases;
  "model/liveFetch": typeof model_liveFetch;
  "model/localFiles": typeof model_localFiles;
  "model/matching": typeof model_matching;
  "model/members": typeof model_members;
  "model/metricsText": typeof model_metricsText;
  "model/outcomeReasons": typeof model_outcomeReasons;
  "model/pages": typeof model_pages;
  "model/promotion": typeof model_promotion;
  "model/queueHeads": typeof model_queueHeads;
  "model/rateLimits": typeof model_rateLimits;
  "model/retention": typeof model_retention;
  "model/roles": typeof model_roles;
  "model/runTriggers": typeof model_runTriggers;
  "model/runs": typeof model_runs;
  "model/scheduling": typeof model_scheduling;
  "model/slackSignature": typeof model_slackSignature;
  "model/slug": typeof model_slug;
  "model/templates": typeof model_templates;
  "model/tokens": typeof model_tokens;
  "model/webhookTargets": typeof model_webhookTargets;
  "model/webhooks": typeof model_webhooks;
  "model/workers": typeof model_workers;
  queue: typeof queue;
  queuePauses: typeof queuePauses;
  rateLimits: typeof rateLimits;
  readiness: typeof readiness;
  recovery: typeof recovery;
  repos: typeof repos;
  retention: typeof retention;
  runTriggerSchedule: typeof runTriggerSchedule;
  runTriggers: typeof runTriggers;
  runs: typeof runs;
  scheduling: typeof scheduling;
  slack: typeof slack;
  sweeps: typeof sweeps;
  timeouts: typeof timeouts;
  tokens: typeof tokens;
  uncertainties: typeof uncertainties;
  uploads: typeof uploads;
  webhookDelivery: typeof webhookDelivery;
  webhookEvents: typeof webhookEvents;
  webhookSend: typeof webhookSend;
  webhooks: typeof webhooks;
  workerAdmin: typeof workerAdmin;
  workers: typeof workers;
  workspaces: typeof workspaces;
}>;

/**
 * A utility for referencing Convex functions in your app's public API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = api.myModule.myFunction;
 * ```
 */
export declare const api: FilterApi<
  typeof fullApi,
  FunctionReference<any, "public">
>;

/**
 * A utility for referencing Convex functions in your app's internal API.
 *
 * Usage:
 * ```js
 * const myFunctionReference = internal.myModule.myFunction;
 * ```
 */
export declare const internal: FilterApi<
  typeof fullApi,
  FunctionReference<any, "internal">
>;

export declare const components: {};
