import { useState } from 'preact/hooks';

/** The reference to pull and an optional library name. */
export function PullForm({ onPull }: { readonly onPull: (source: string, name: string) => void }) {
  const [source, setSource] = useState('');
  const [name, setName] = useState('');
  return (
    <form
      class="row pull-form"
      aria-label="pull a model"
      onSubmit={(e) => {
        e.preventDefault();
        onPull(source.trim(), name.trim());
      }}
    >
      <label>
        Source{' '}
        <input
          name="source"
          required
          placeholder="hf:org/repo, civitai:ID, https://…/x.safetensors or a server path"
          value={source}
          onInput={(e) => setSource(e.currentTarget.value)}
        />
      </label>
      <label>
        Name{' '}
        <input
          name="name"
          placeholder="optional"
          value={name}
          onInput={(e) => setName(e.currentTarget.value)}
        />
      </label>
      <button type="submit" class="primary">
        Pull
      </button>
    </form>
  );
}
