import { useState } from 'preact/hooks';
import type { JobParameters } from './api-types.ts';
import { embeddedParameters } from './png-parameters.ts';

interface Props {
  readonly onParameters: (model: string | undefined, parameters: Partial<JobParameters>) => void;
}

/** Drop (or choose) a PNG Pictor made: the form fills from the parameters embedded in it. */
export function ReproduceDrop({ onParameters }: Props) {
  const [note, setNote] = useState('');
  const read = async (file: File | undefined): Promise<void> => {
    if (!file) return;
    const found = embeddedParameters(new Uint8Array(await file.arrayBuffer()));
    if (!found) {
      setNote(`${file.name} carries no generation parameters`);
      return;
    }
    onParameters(found.model, found.parameters);
    setNote(`filled from ${file.name}`);
  };
  return (
    <label
      class="drop reproduce"
      onDragOver={(e) => e.preventDefault()}
      onDrop={(e) => {
        e.preventDefault();
        read(e.dataTransfer?.files[0]).catch(() => setNote('not a PNG with parameters'));
      }}
    >
      Drop a PNG Pictor made to reuse its parameters
      <input
        name="reproduce_file"
        type="file"
        accept="image/png"
        onChange={(e) => {
          read(e.currentTarget.files?.[0]).catch(() => setNote('not a PNG with parameters'));
        }}
      />
      {note !== '' && (
        <span class="note" role="status">
          {note}
        </span>
      )}
    </label>
  );
}
