// @ts-check
/**
 * The docs' own TypeDoc plugin (docs/typedoc.json loads it after typedoc-plugin-markdown): drops
 * the "Defined in" sources that lie in node_modules (members a class inherits from `Error` and
 * the like), whose links would point into a dependency instead of this repository.
 * test/site.test.ts checks that every source link of the built reference names a file of the
 * repository.
 */
import { Converter, DeclarationReflection, SignatureReflection } from 'typedoc';

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(
    Converter.EVENT_RESOLVE_END,
    (context) => {
      for (const reflection of Object.values(context.project.reflections)) {
        if (
          !(
            reflection instanceof DeclarationReflection || reflection instanceof SignatureReflection
          )
        )
          continue;
        if (!reflection.sources) continue;
        const sources = reflection.sources.filter(
          (source) => !source.fullFileName.replaceAll('\\', '/').includes('/node_modules/'),
        );
        reflection.sources = sources.length > 0 ? sources : undefined;
      }
    },
    // After TypeDoc's SourcePlugin has set the URLs.
    -100,
  );
}
