import { tf } from '../tf.js';
import { toTensors, disposeAll } from './params.js';
import { CNN_KERNEL, type ModelSpec } from './spec.js';

/**
 * The equivalent TF.js Sequential model, with the flat weights set. Classification models end in softmax
 * (the functional forward returns logits), so `predict` gives probabilities like any Keras classifier.
 */
export function toLayersModel(spec: ModelSpec, flat: Float32Array): tf.LayersModel {
  const model = tf.sequential();
  const finalActivation = spec.task === 'classification' ? 'softmax' : 'linear';
  switch (spec.kind) {
    case 'mlp': {
      // Flatten needs a rank of at least 2 per example; a vector input goes straight into the first dense layer.
      const flat = spec.inputShape.length > 1;
      if (flat) model.add(tf.layers.flatten({ inputShape: [...spec.inputShape], name: 'flatten' }));
      const first = flat ? {} : { inputShape: [...spec.inputShape] };
      spec.hidden.forEach((units, i) =>
        model.add(tf.layers.dense({ ...(i === 0 ? first : {}), units, activation: 'relu', name: `dense_${i + 1}` })),
      );
      model.add(
        tf.layers.dense({
          ...(spec.hidden.length === 0 ? first : {}),
          units: spec.outputs,
          activation: finalActivation,
          name: `dense_${spec.hidden.length + 1}`,
        }),
      );
      break;
    }
    case 'cnn':
      spec.filters.forEach((filters, i) => {
        model.add(
          tf.layers.conv2d({
            ...(i === 0 ? { inputShape: [...spec.inputShape] } : {}),
            filters,
            kernelSize: CNN_KERNEL,
            padding: 'same',
            activation: 'relu',
            name: `conv2d_${i + 1}`,
          }),
        );
        model.add(tf.layers.maxPooling2d({ poolSize: 2, strides: 2, padding: 'same', name: `max_pooling2d_${i + 1}` }));
      });
      model.add(tf.layers.flatten({ name: 'flatten' }));
      model.add(tf.layers.dense({ units: spec.outputs, activation: finalActivation, name: 'dense_1' }));
      break;
    default: {
      const unknown: never = spec;
      throw new Error(`unknown model kind ${JSON.stringify(unknown)}`);
    }
  }
  const tensors = toTensors(spec, flat);
  model.setWeights(tensors);
  disposeAll(tensors);
  return model;
}

export interface LayersModelFiles {
  /** The parsed model.json: topology plus a weightsManifest pointing at `weightsPath`. */
  readonly modelJson: Record<string, unknown>;
  readonly weightsPath: string;
  /** weights.bin: float32 little-endian, in the manifest's order (the flat layout order). */
  readonly weightsBin: Uint8Array;
}

/** The standard TF.js LayersModel artifacts, loadable with `tf.loadLayersModel(url)` from any server. */
export async function exportLayersModel(spec: ModelSpec, flat: Float32Array, weightsPath = 'weights.bin'): Promise<LayersModelFiles> {
  const model = toLayersModel(spec, flat);
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler((a) => {
      artifacts = a;
      return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } });
    }),
  );
  model.dispose();
  if (!artifacts?.weightData || !artifacts.weightSpecs) throw new Error('TF.js produced no weights while exporting');
  const weightData = artifacts.weightData;
  const buffers = Array.isArray(weightData) ? weightData : [weightData];
  const total = buffers.reduce((n, b) => n + b.byteLength, 0);
  const weightsBin = new Uint8Array(total);
  let offset = 0;
  for (const b of buffers) {
    weightsBin.set(new Uint8Array(b), offset);
    offset += b.byteLength;
  }
  const modelJson = {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    convertedBy: 'Tabula',
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [weightsPath], weights: artifacts.weightSpecs }],
  };
  return { modelJson, weightsPath, weightsBin };
}
