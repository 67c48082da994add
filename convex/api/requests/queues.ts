/** The fields of `/v1/queues/pause` and `/v1/queues/resume` (queuePauses.ts derives its args from them). */
import { z } from "zod";
import { LANES } from "../../model/jobs";
import { idOf } from "../schemas";

export const queuePauseRequest = z.object({
  workspaceId: idOf("workspaces"),
  lane: z.enum(LANES).optional().meta({ description: "The lane; absent: every lane." }),
  repoId: idOf("repos").optional().meta({ description: "Only this repo's jobs; absent: the whole lane." }),
});
