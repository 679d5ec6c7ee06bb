// The journal as the handler sees it in durable mode. Internal.
import type { TaskGroup } from "./task_group.ts";
import type { TaskStore } from "./task_store.ts";

/**
 * The journal as the handler sees it: a group holding a task whose name the
 * service did not list is refused (a 500: the service's bug) before anything
 * is journaled, since after a restart nothing could run it.
 */
export function knownTasksOnly(
  store: Pick<TaskStore, "enqueue">,
  definitions: ReadonlyMap<string, unknown>,
): Pick<TaskStore, "enqueue"> {
  return {
    enqueue(group: TaskGroup): Promise<void> {
      for (const { name } of group.tasks) {
        if (!definitions.has(name)) {
          throw new TypeError(
            `Cannot journal task "${name}": it is not one of the service's tasks (defineTask, listed in tasks), so a restart could not run it`,
          );
        }
      }
      return store.enqueue(group);
    },
  };
}
