import { fileAsDataUri, imageFileOf } from './image-files.ts';
import { MaskPainter, type MaskReader } from './mask-painter.tsx';

interface Props {
  readonly image: string | undefined;
  readonly strength: number;
  readonly inpainting: boolean;
  readonly onImage: (image: string | undefined) => void;
  readonly onStrength: (strength: number) => void;
  /** Must keep its identity across renders (the painter registers its reader once). */
  readonly onMaskReader: (read: MaskReader | undefined) => void;
}

/** img2img: an init image dropped, pasted or picked; its strength; a mask painted over it. */
export function InitImagePanel(props: Props) {
  const { image, strength, inpainting, onImage, onStrength, onMaskReader } = props;
  const take = (file: File | undefined): void => {
    if (file) void fileAsDataUri(file).then(onImage);
  };
  return (
    <fieldset
      class="init-image"
      onDragOver={(e) => e.preventDefault()}
      onDrop={(e) => {
        e.preventDefault();
        e.stopPropagation();
        take(imageFileOf(e.dataTransfer));
      }}
      onPaste={(e) => take(imageFileOf(e.clipboardData))}
    >
      <legend>Init image (img2img, inpainting)</legend>
      {image === undefined ? (
        <label class="drop">
          Drop, paste or choose an image
          <input
            name="init_image_file"
            type="file"
            accept="image/*"
            onChange={(e) => take(e.currentTarget.files?.[0])}
          />
        </label>
      ) : (
        <>
          <label>
            Strength {strength.toFixed(2)}
            <input
              name="strength"
              type="range"
              min={0}
              max={1}
              step={0.05}
              value={strength}
              onInput={(e) => onStrength(Number(e.currentTarget.value))}
            />
          </label>
          {inpainting ? (
            <>
              <p class="hint">Paint where the model should repaint (white in the mask).</p>
              <MaskPainter image={image} onReader={onMaskReader} />
            </>
          ) : (
            <img class="init-preview" src={image} alt="init image" />
          )}
          <button
            type="button"
            onClick={() => {
              onImage(undefined);
              onMaskReader(undefined);
            }}
          >
            Remove init image
          </button>
        </>
      )}
    </fieldset>
  );
}
