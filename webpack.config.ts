/*
 * MeshWatch keeps plugin.json and dashboards/ at the top level of the repo
 * (see the design card). create-plugin's managed config in .config/ reads
 * src/plugin.json, so this file extends it instead of editing it:
 *   1. reads of src/plugin.json are answered from ./plugin.json while the base
 *      config loads (it reads the id, version, logos and screenshots from it);
 *   2. the entry is src/module.tsx;
 *   3. the copy step ships ./plugin.json and ./dashboards/*.json into dist/.
 * What the build reads and ships is that one plugin.json.
 */
import fs from 'fs';
import path from 'path';
import type { Configuration } from 'webpack';
import CopyWebpackPlugin from 'copy-webpack-plugin';

const root = process.cwd();
const topPluginJson = path.resolve(root, 'plugin.json');
const srcPluginJson = path.resolve(root, 'src', 'plugin.json');

type ReadFileSync = typeof fs.readFileSync;
const realReadFileSync: ReadFileSync = fs.readFileSync;
(fs as { readFileSync: ReadFileSync }).readFileSync = ((file: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
  const target = typeof file === 'string' && path.resolve(file) === srcPluginJson ? topPluginJson : file;
  return (realReadFileSync as (...a: unknown[]) => unknown)(target, ...rest);
}) as ReadFileSync;

// Loaded after the redirect is in place.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const baseConfig = require('./.config/webpack/webpack.config').default as (env: Record<string, unknown>) => Promise<Configuration>;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { copyFilePatterns } = require('./.config/bundler/copyFiles') as { copyFilePatterns: Array<{ from: string; to: string }> };

const config = async (env: Record<string, unknown>): Promise<Configuration> => {
  const base = await baseConfig(env);
  const patterns = [
    ...copyFilePatterns.map((p) =>
      p.from === 'plugin.json'
        ? { ...p, from: '../plugin.json' }
        : p.from === '**/*.json'
          ? { ...p, noErrorOnMissing: true }
          : p
    ),
    { from: '../dashboards/*.json', to: 'dashboards/[name][ext]', noErrorOnMissing: true },
  ];
  return {
    ...base,
    entry: { module: './module.tsx' },
    plugins: [
      ...(base.plugins ?? []).filter((p) => !(p instanceof CopyWebpackPlugin)),
      new CopyWebpackPlugin({ patterns }),
    ],
  };
};

export default config;
