/** The local engine in process on a data directory, failing loudly (a test must see a journal error). */
import { createEngine, type Engine } from "../../scripts/local/engine";
import { convexModuleMap, type ModuleMap } from "../../scripts/local/modules";
import { openJournalStore, type JournalStore } from "../../scripts/local/store";

export const localModules = convexModuleMap();

/** Opens (or, on a used directory, restarts) an engine; close `store` when done. */
export async function openEngine(
  dir: string,
  modules: ModuleMap = localModules,
): Promise<{ engine: Engine; store: JournalStore }> {
  const store = openJournalStore(dir);
  const engine = await createEngine({
    modules,
    store,
    onFatal: (error) => {
      throw error;
    },
  });
  return { engine, store };
}
