/**
 * Real index ranges for the local engine. convex-test answers a query by collecting every
 * document of its table, filtering and sorting them, so a `.first()` cost the whole table (or
 * range). Here each table keeps its committed ids, and each index (the schema's and
 * by_creation_time) keeps its committed documents sorted (sortedIndex.ts), built by one sort at
 * load and kept current on each top-level commit. Index-range queries are then walked in order
 * (orderedWalk.ts); full scans and search keep convex-test's path over the table's ids.
 */
import {
  committedDocuments,
  installQueryExecution,
  onTopLevelCommit,
  pendingWrites,
  schemaIndexes,
  tableOf,
  type CommittedWrite,
  type Document,
  type Internals,
} from "./convexTestInternals";
import { orderedExecution, type WalkStats } from "./orderedWalk";
import { SortedIndex, type Slot } from "./sortedIndex";

/** A table's documents (their slots, by id, in convex-test's visiting order) and its indexes. */
type Table = {
  slots: Map<string, Slot>;
  indexes: Map<string, SortedIndex>;
  each: Array<[name: string, index: SortedIndex]>;
};

/** Every table's committed ids and sorted indexes. */
export class IndexSet {
  private readonly tables = new Map<string, Table>();

  constructor(private readonly declared: (table: string) => Array<{ name: string; fields: string[] }>) {}

  /**
   * Builds every index over `documents`: each table's documents are put in by_creation_time
   * order once (nearly free: they come in about that order), then each index is one stable
   * sort by its own fields. O(n log n) for n documents.
   */
  load(documents: Readonly<Record<string, Document>>) {
    const byTable = new Map<string, Map<string, Slot>>();
    for (const id of Object.keys(documents)) {
      const table = tableOf(id);
      let slots = byTable.get(table);
      if (slots === undefined) byTable.set(table, (slots = new Map()));
      slots.set(id, { document: documents[id]! });
    }
    for (const [name, slots] of byTable) {
      const [creation, ...declared] = this.definitions(name);
      const byCreation = SortedIndex.build(creation!.fields, slots.values());
      const ordered = [...byCreation.walk({ chunk: 0, offset: 0 }, byCreation.end(), "asc")].map((document) =>
        slots.get(document._id as string)!,
      );
      const indexes = new Map<string, SortedIndex>([[creation!.name, byCreation]]);
      for (const { name: index, fields } of declared) indexes.set(index, SortedIndex.build(fields, ordered, 2));
      this.tables.set(name, { slots, indexes, each: [...indexes] });
    }
  }

  /**
   * Applies one top-level commit. An index whose key the write leaves alone (most of them for
   * most patches) is not touched: the slot it holds gets the new document for all of them.
   */
  apply(writes: CommittedWrite[]) {
    for (const { id, previous, current } of writes) {
      const table = this.table(tableOf(id));
      let slot = table.slots.get(id);
      if (slot === undefined) {
        if (previous !== undefined) this.lost(id, "by_creation_time");
        if (current === undefined) continue;
        slot = { document: current };
        table.slots.set(id, slot);
        for (const [, index] of table.each) index.insert(slot);
        continue;
      }
      if (previous === undefined) this.lost(id, "by_creation_time");
      const moved: SortedIndex[] = [];
      for (const [name, index] of table.each) {
        if (current !== undefined && index.compare(previous, current) === 0) continue;
        // Found by the key it was filed under: the slot still holds `previous`.
        if (!index.remove(slot)) this.lost(id, name);
        moved.push(index);
      }
      if (current === undefined) {
        table.slots.delete(id);
        continue;
      }
      slot.document = current;
      for (const index of moved) index.insert(slot);
    }
  }

  private lost(id: string, index: string): never {
    throw new Error(`Local index ${tableOf(id)}.${index} lost document ${id}; restart the local server.`);
  }

  index(table: string, name: string): SortedIndex | undefined {
    return this.table(table).indexes.get(name);
  }

  /** The committed ids of `table` (keys), in the order convex-test would visit them. */
  ids(table: string): ReadonlyMap<string, Slot> {
    return this.table(table).slots;
  }

  private table(name: string): Table {
    let table = this.tables.get(name);
    if (table === undefined) {
      const indexes = new Map(this.definitions(name).map(({ name, fields }) => [name, new SortedIndex(fields)]));
      this.tables.set(name, (table = { slots: new Map(), indexes, each: [...indexes] }));
    }
    return table;
  }

  private definitions(table: string) {
    return [
      { name: "by_creation_time", fields: ["_creationTime", "_id"] },
      ...this.declared(table).map(({ name, fields }) => ({ name, fields: [...fields, "_creationTime", "_id"] })),
    ];
  }
}

/**
 * Builds the indexes over the committed documents, keeps them current on commit, and answers
 * index-range queries from them. Returns the walk counters (tests, start-up probe).
 */
export function installIndexes(internals: Internals): WalkStats {
  const indexes = new IndexSet((table) => schemaIndexes(internals, table));
  indexes.load(committedDocuments(internals));
  onTopLevelCommit(internals, (writes) => indexes.apply(writes));
  const { execution, stats } = orderedExecution(internals, indexes);
  installQueryExecution(internals, {
    ...execution,
    scanTable(table, visit) {
      // convex-test's own order: committed documents (in their pending version), then new ones.
      // Search results are not sorted afterwards, so this order is part of the answer.
      const pending = pendingWrites(internals, (id) => tableOf(id) === table);
      const documents = committedDocuments(internals);
      for (const id of indexes.ids(table).keys()) {
        const document = pending.has(id) ? pending.get(id)! : documents[id]!;
        if (document !== null) visit(document);
      }
      for (const [id, document] of pending) if (document !== null && !indexes.ids(table).has(id)) visit(document);
    },
  });
  return stats;
}
